"""Running a case: train each seed as ``palaestra train`` would, evaluating on a schedule.

A seed is set up with training's own functions (:func:`~training.run.prepare`,
:func:`~training.seeding.seed_everything`, :func:`~training.run.build_agent`), so a case
learns exactly what ``palaestra train`` learns with the same config; only the run directory,
checkpoints and GIF are left out. :class:`EvaluationSchedule` measures the greedy policy at
fixed step counts on a separate env with fixed seeds, restoring every random generator
afterwards, so evaluating never changes what the agent trains on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import gymnasium as gym
import numpy as np
import torch

from agents.base import Agent, Callback
from agents.common.torch_utils import torch_threads
from training.evaluation import evaluate
from training.regression.baseline import CurveSet, provenance
from training.regression.case import RegressionCase
from training.run import build_agent, prepare
from training.seeding import seed_everything

# torch's CPU kernels may split reductions differently with another thread count, which
# changes the last bits of a curve; one thread makes curves identical across machines
# (and is the faster choice for the small networks regression cases train).
TORCH_THREADS = 1


@contextmanager
def preserved_random_state(agent: Agent) -> Iterator[None]:
    """Restore python's, numpy's, torch's and the agent's own generators on exit.

    Greedy acting should draw no random numbers, but nothing forces an agent to honour
    that; restoring the state makes the training stream independent of evaluation anyway.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global seed_everything sets
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    generators = {
        name: value.bit_generator.state
        if isinstance(value, np.random.Generator)
        else value.get_state()
        for name, value in vars(agent).items()
        if isinstance(value, (np.random.Generator, torch.Generator))
    }
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        for name, state in generators.items():
            generator = getattr(agent, name)
            if isinstance(generator, np.random.Generator):
                generator.bit_generator.state = state
            else:
                generator.set_state(state)


class EvaluationSchedule(Callback):
    """Evaluates the greedy policy the first time training reaches each scheduled step.

    Vectorised learners count several steps at once, so a point is measured at the first
    step count at or past it. Points training never reaches (a learner that stops early,
    or value iteration, which takes no steps) are measured by :meth:`finish` with the final
    policy, which is the policy the agent would have had there.
    """

    def __init__(self, env: gym.Env, steps: Sequence[int], episodes: int, seed: int) -> None:
        self.env = env
        self.steps = tuple(steps)
        self.episodes = episodes
        self.seed = seed
        self.returns: list[float] = []

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        if len(self.returns) < len(self.steps) and num_steps >= self.steps[len(self.returns)]:
            self._evaluate(agent, num_steps)
        return True

    def finish(self, agent: Agent) -> list[float]:
        """Fill the points not reached during training; the full curve."""
        if len(self.returns) < len(self.steps):
            self._evaluate(agent, None)
        return self.returns

    def _evaluate(self, agent: Agent, num_steps: int | None) -> None:
        with preserved_random_state(agent):
            value = evaluate(agent, self.env, episodes=self.episodes, seed=self.seed)
        # One evaluation serves every point the step count has passed (same policy).
        while len(self.returns) < len(self.steps) and (
            num_steps is None or num_steps >= self.steps[len(self.returns)]
        ):
            self.returns.append(value["mean_return"])


def run_seed(case: RegressionCase, seed: int) -> list[float]:
    """Train ``case`` with ``seed`` and return its evaluation curve."""
    setup = prepare(case.train_config(seed))
    config = setup.config
    eval_env = setup.make_env()
    schedule = EvaluationSchedule(eval_env, case.eval_steps, case.eval_episodes, case.eval_seed)
    try:
        with torch_threads(TORCH_THREADS):
            seed_everything(config.seed)  # before the agent exists, as training does
            agent = build_agent(setup)
            try:
                agent.learn(setup.env, config.steps, schedule)
            finally:
                setup.env.close()
            return schedule.finish(agent)
    finally:
        eval_env.close()


def run_case(
    case: RegressionCase,
    seeds: Sequence[int] | None = None,
    on_seed: Callable[[int, float], None] | None = None,
) -> CurveSet:
    """Every seed of ``case`` (or ``seeds`` instead) as one :class:`CurveSet`.

    ``on_seed(seed, seconds)`` is called after each seed, for progress output.
    """
    seeds = tuple(case.seeds if seeds is None else seeds)
    curves, seconds = [], {}
    started = time.perf_counter()
    for seed in seeds:
        t0 = time.perf_counter()
        curves.append(run_seed(case, seed))
        seconds[str(seed)] = round(time.perf_counter() - t0, 3)
        if on_seed is not None:
            on_seed(seed, seconds[str(seed)])
    return CurveSet(
        case=case.name,
        definition=case.definition(),
        eval_steps=case.eval_steps,
        seeds=seeds,
        returns=np.array(curves, dtype=np.float64),
        provenance=provenance(
            {
                "torch_threads": TORCH_THREADS,
                "wall_time_s": round(time.perf_counter() - started, 3),
                "seed_wall_time_s": seconds,
            }
        ),
    )
