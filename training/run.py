"""``train`` and ``resume``: the Python API behind ``palaestra train``.

A run is validated completely (config values, env id and kwargs, wrappers, agent name and
config, the agent against the env's spaces) before its directory is created, so a bad
configuration writes nothing; models the wrappers read through are trained then too, in
memory, and saved once the directory exists. Then the agent learns with a
:class:`~training.logger.RunLogger` attached, and the run ends with a checkpoint, a greedy
evaluation, the reward curve, a GIF of the learned policy and one summary line.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
from gymnasium.vector import VectorEnv
from pettingzoo import ParallelEnv

from agents.base import Agent
from agents.multiagent.base import MultiAgentLearner
from agents.registry import agent_names
from training.checkpoints import save_checkpoint
from training.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    lookup_agent,
    one_line,
    plain,
    resolve_agent_config,
    validate_scalars,
)
from training.environments import (
    can_render_rgb,
    check_env_id,
    env_family,
    env_spaces,
    is_multiagent,
    make_env,
    make_vector_env,
)
from training.evaluation import eval_seed, evaluate
from training.logger import RunLogger
from training.metrics import METRICS_FILE
from training.plots import plot_reward_curve
from training.rundir import (
    CURVE_FILE,
    EVAL_FILE,
    GIF_FILE,
    VERSIONS_FILE,
    check_out_dir,
    create_run_dir,
    load_run,
    versions,
    write_config,
    write_json,
)
from training.seeding import seed_everything
from training.watch import save_policy_gif
from training.wrappers import build_wrappers, save_models, wrapper_specs

if TYPE_CHECKING:
    from agents.models.wrappers import EnvWrapper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What a finished ``train`` or ``resume`` call produced."""

    run_dir: Path
    num_steps: int  # total steps the agent has learned from (across resumes)
    episodes: int  # total training episodes in metrics.csv
    wall_time_s: float  # this call, from validation to the GIF
    steps_per_s: float  # learning throughput of this call
    eval: dict[str, float]  # evaluate()'s result for the final agent
    checkpoint: Path  # the final checkpoint

    def summary(self) -> str:
        """The one line printed at the end of a run."""
        ev = self.eval
        return (
            f"done: {self.num_steps:,} steps, {self.episodes:,} episodes in "
            f"{self.wall_time_s:.1f} s ({self.steps_per_s:,.0f} steps/s); "
            f"eval over {ev['episodes']} episodes: return {ev['mean_return']:.3f} "
            f"± {ev['std_return']:.3f}, success {ev['success_rate']:.0%}; "
            f"run dir {self.run_dir}"
        )


@dataclass
class Setup:
    """A validated config with the env built from it (nothing written yet)."""

    config: TrainConfig  # agent_config holds every field of the agent's config, defaults too
    agent_cls: type[Agent]
    agent_config: Any
    env: gym.Env | VectorEnv  # a vector env for agents whose config has ``n_envs``
    wrappers: list[EnvWrapper] = field(default_factory=list)  # around every env of the run

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh env as the run's evaluation sees it (the game as scored, wrapped)."""
        return make_env(
            self.config.env, self.config.env_kwargs, render_mode, wrappers=self.wrappers
        )


def prepare(config: TrainConfig) -> Setup:
    """Validate every part of ``config``; ConfigError (one line) on the first problem.

    Models of the ``wrappers`` that name no file are trained here (in memory; see
    :mod:`training.wrappers`), and ``config.wrappers`` comes back resolved.
    """
    validate_scalars(config)
    agent_cls = lookup_agent(config.agent)
    check_env_id(config.env)
    values = {**env_preset(config.env, agent_cls), **config.agent_config}
    agent_config = resolve_agent_config(agent_cls, values, config.device)
    wrappers = build_wrappers(config)
    env = make_training_env(config, agent_config, wrappers)
    resolved = dataclasses.replace(
        config, agent_config=plain(agent_config), wrappers=wrapper_specs(wrappers)
    )
    return Setup(resolved, agent_cls, agent_config, env, wrappers)


def env_preset(env_id: str, agent_cls: type[Agent]) -> dict[str, Any]:
    """The agent config values a run on ``env_id`` starts from (its config overrides them):
    the agent config's ``ENV_PRESETS`` entry for the env's family, such as PPO's CleanRL
    settings for Atari; empty for other envs."""
    family = env_family(env_id)
    presets = getattr(agent_cls.config_class, "ENV_PRESETS", {})
    return dict(presets.get(family, {})) if family else {}


def make_training_env(
    config: TrainConfig, agent_config: Any, wrappers: list[EnvWrapper] | None = None
) -> gym.Env | VectorEnv:
    """The env an agent learns from: ``agent_config.n_envs`` copies in a vector env when the
    agent's config has that field (the deep and SB3 learners), else one plain env.

    Deciding by the config field keeps the trainer free of per-agent cases: any learner that
    declares ``n_envs`` gets the vector env its setting asks for (``--set agent.n_envs=16``).
    It is the training variant of the env (for Atari: a lost life ends the episode, rewards
    clipped); evaluation, the GIF and ``palaestra eval``/``watch`` play the game as scored.
    Every copy gets ``wrappers`` (built from ``config.wrappers`` when not given).
    """
    wrappers = build_wrappers(config) if wrappers is None else wrappers
    n_envs = getattr(agent_config, "n_envs", None)
    if n_envs is None or is_multiagent(config.env):  # multi-agent learners batch the agents
        return make_env(config.env, config.env_kwargs, training=True, wrappers=wrappers)
    return make_vector_env(config.env, config.env_kwargs, n_envs, True, wrappers)


def build_agent(setup: Setup) -> Agent:
    """A new agent for the env's spaces; an agent that cannot handle them is a ConfigError."""
    env, config = setup.env, setup.config
    observation_space, action_space = env_spaces(env)
    check_agent_fits_env(setup)
    try:
        if issubclass(setup.agent_cls, MultiAgentLearner):
            return setup.agent_cls.for_env(env, setup.agent_config, seed=config.seed)
        return setup.agent_cls(
            observation_space, action_space, setup.agent_config, seed=config.seed
        )
    except (TypeError, ValueError, NotImplementedError) as e:
        env.close()
        raise ConfigError(
            f"agent {config.agent!r} cannot train on {config.env!r} "
            f"(observations {observation_space}, actions {action_space}): {one_line(e)}"
        ) from None


def check_agent_fits_env(setup: Setup) -> None:
    """ConfigError when a single-agent learner meets a multi-agent env or the other way."""
    multi_env = isinstance(setup.env, ParallelEnv)
    multi_agent = issubclass(setup.agent_cls, MultiAgentLearner)
    if multi_env == multi_agent:
        return
    setup.env.close()
    kind = "multi-agent" if multi_agent else "single-agent"
    env_kind = "a multi-agent (PettingZoo)" if multi_env else "a single-agent (Gymnasium)"
    fitting = agent_names(multi_agent=multi_env)
    raise ConfigError(
        f"agent {setup.config.agent!r} is a {kind} learner but {setup.config.env!r} is "
        f"{env_kind} env; agents for it: {', '.join(fitting)}"
    )


def train(
    config: TrainConfig | None = None, *, verbose: bool = True, **overrides: Any
) -> RunResult:
    """Train a new run: ``train(env="FrozenLake-v1", steps=5000, **{"agent.alpha": 0.5})``.

    ``overrides`` use the keys of ``--set`` (typed values or strings). ``verbose`` shows the
    progress bar and prints the summary line.
    """
    started = time.perf_counter()
    config = apply_overrides(config or TrainConfig(), overrides)
    check_out_dir(config)
    setup = prepare(config)
    seed_everything(config.seed)  # before the agent exists: its initial weights use torch's RNG
    agent = build_agent(setup)
    run_dir = create_run_dir(setup.config)  # the first write
    setup = _with_saved_models(setup, run_dir)
    write_json(run_dir / VERSIONS_FILE, versions())
    return _learn_and_report(run_dir, setup, agent, started, verbose)


def resume(run_dir: str | Path, steps: int | None = None, *, verbose: bool = True) -> RunResult:
    """Continue a run from its last checkpoint to ``steps`` (default: the config's ``steps``)."""
    started = time.perf_counter()
    run = load_run(run_dir)
    config = run.config if steps is None else apply_overrides(run.config, {"steps": steps})
    setup = prepare(config)
    if config.steps <= run.agent.num_steps:
        setup.env.close()
        raise ConfigError(
            f"steps={config.steps}: the checkpoint is already at {run.agent.num_steps} steps; "
            f"pass a larger --steps to continue"
        )
    # A different seed than the start of the run: re-seeding identically would replay the
    # python/numpy/torch random streams of the first steps.
    seed_everything(config.seed + run.agent.num_steps)
    setup = _with_saved_models(setup, run.run_dir)
    return _learn_and_report(run.run_dir, setup, run.agent, started, verbose)


def _with_saved_models(setup: Setup, run_dir: Path) -> Setup:
    """``setup`` with the wrapper models trained for the run saved into ``run_dir`` and
    its config (``out`` and the model files filled in) written as ``config.yaml``."""
    wrappers = save_models(run_dir, setup.wrappers)
    config = dataclasses.replace(setup.config, out=str(run_dir), wrappers=wrapper_specs(wrappers))
    write_config(run_dir, config)
    return dataclasses.replace(setup, config=config, wrappers=wrappers)


def _learn_and_report(
    run_dir: Path, setup: Setup, agent: Agent, started: float, verbose: bool
) -> RunResult:
    config, env = setup.config, setup.env
    start_step = agent.num_steps
    can_gif = can_render_rgb(env)
    logger = RunLogger(
        run_dir,
        total_steps=config.steps,
        start_step=start_step,
        checkpoint_every=config.checkpoint_every,
        progress=verbose,
    )
    try:
        learn_started = time.perf_counter()
        try:
            agent.learn(env, config.steps, logger)
        except KeyboardInterrupt:
            logger.end_training(agent.num_steps)
            save_checkpoint(agent, run_dir)
            log.warning(
                "interrupted at step %d; continue with `palaestra train --resume %s`",
                agent.num_steps,
                run_dir,
            )
            raise
        finally:
            env.close()
        learn_time = time.perf_counter() - learn_started
        logger.end_training(agent.num_steps)
        save_checkpoint(agent, run_dir)
        final = save_checkpoint(agent, run_dir, f"step_{agent.num_steps}")
        result = _evaluate_final(run_dir, setup, agent)
        logger.log_eval(result, agent.num_steps)
    finally:
        logger.close()
    plot_reward_curve(
        run_dir / METRICS_FILE,
        run_dir / CURVE_FILE,
        title=f"{config.agent} on {config.env} (seed {config.seed})",
    )
    _record_policy(run_dir, setup, agent, can_gif)
    run = RunResult(
        run_dir=run_dir,
        num_steps=agent.num_steps,
        episodes=logger.episodes,
        wall_time_s=time.perf_counter() - started,
        steps_per_s=(agent.num_steps - start_step) / max(learn_time, 1e-9),
        eval=result,
        checkpoint=final,
    )
    if verbose:
        print(run.summary(), flush=True)
    return run


def _evaluate_final(run_dir: Path, setup: Setup, agent: Agent) -> dict[str, Any]:
    env = setup.make_env()
    try:
        seed = eval_seed(setup.config)
        result = evaluate(agent, env, episodes=setup.config.eval_episodes, seed=seed)
    finally:
        env.close()
    write_json(run_dir / EVAL_FILE, {**result, "seed": seed, "num_steps": agent.num_steps})
    return result


def _record_policy(run_dir: Path, setup: Setup, agent: Agent, can_render: bool) -> None:
    config = setup.config
    if not can_render:
        log.warning("note: %s cannot render rgb_array frames; %s skipped", config.env, GIF_FILE)
        return
    env = setup.make_env(render_mode="rgb_array")
    try:
        save_policy_gif(agent, env, run_dir / GIF_FILE, seed=eval_seed(config))
    finally:
        env.close()
