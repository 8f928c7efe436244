"""Measuring a policy against a known optimum: greedy episodes and episodes-until-optimal.

One episode runner serves training's evaluation, ``palaestra watch``, GIF recording, the
learning tests and the time-to-solve benchmarks. It works for any :class:`~agents.base.Agent`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from pettingzoo import ParallelEnv

from agents.base import Agent, Callback, EpisodeStats

# A greedy policy can loop forever in an env registered without a time limit.
FALLBACK_MAX_STEPS = 10_000


@dataclass(frozen=True)
class EpisodeResult:
    """One evaluation episode."""

    episode_return: float
    discounted_return: float
    length: int
    success: bool
    ended: bool  # terminated or truncated by the env, rather than cut off at max_steps
    info: dict[str, Any]  # the last step's info (env-specific end-of-episode figures)


def episode_success(info: dict[str, Any], episode_return: float) -> bool:
    """``info["is_success"]`` when the env reports it, else whether the return was positive."""
    if "is_success" in info:
        return bool(info["is_success"])
    return episode_return > 0


def run_episode(
    agent: Agent,
    env: gym.Env,
    *,
    deterministic: bool = True,
    gamma: float = 1.0,
    seed: int | None = None,
    max_steps: int | None = None,
    on_frame: Callable[[], bool] | None = None,
) -> EpisodeResult:
    """Play one episode without learning.

    ``max_steps`` (default: none when the env has a time limit, else ``FALLBACK_MAX_STEPS``)
    guards envs registered without one (Gymnasium's CliffWalking), where a greedy policy
    that loops would otherwise never return. The discounted return tells apart
    goal-reaching paths of different lengths when every path's undiscounted return is the
    same (e.g. 0 per step and 1 at the goal). ``on_frame()`` runs after the reset and after
    every step (watching and GIFs draw there); returning False ends the episode early.
    """
    if isinstance(env, ParallelEnv):
        return run_team_episode(
            agent,
            env,
            deterministic=deterministic,
            gamma=gamma,
            seed=seed,
            max_steps=max_steps,
            on_frame=on_frame,
        )
    if max_steps is None and (env.spec is None or env.spec.max_episode_steps is None):
        max_steps = FALLBACK_MAX_STEPS
    obs, info = env.reset(seed=seed)
    # Actors with only an ``act`` (a peer library's model, the scripted expert) are accepted
    # too; they have no memory to clear.
    start_episode = getattr(agent, "start_episode", None)
    if start_episode is not None:
        start_episode()
    total, discounted, discount = 0.0, 0.0, 1.0
    terminated = truncated = False
    length = 0
    stopped = on_frame is not None and not on_frame()
    while not (stopped or terminated or truncated) and (max_steps is None or length < max_steps):
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, deterministic))
        total += float(reward)
        discounted += discount * float(reward)
        discount *= gamma
        length += 1
        stopped = on_frame is not None and not on_frame()
    success = episode_success(info, total) if (terminated or truncated) else False
    return EpisodeResult(total, discounted, length, success, terminated or truncated, info)


def run_team_episode(
    agent: Agent,
    env: ParallelEnv,
    *,
    deterministic: bool = True,
    gamma: float = 1.0,
    seed: int | None = None,
    max_steps: int | None = None,
    on_frame: Callable[[], bool] | None = None,
) -> EpisodeResult:
    """:func:`run_episode` for a PettingZoo ``ParallelEnv`` and a multi-agent learner.

    The return is the team's (the mean over agents of each agent's return, as training
    reports it); success means every agent ended with ``info["is_success"]``; ``info`` is
    the last info of the first agent. ``max_steps`` defaults to ``FALLBACK_MAX_STEPS``
    (PettingZoo envs end themselves with ``max_cycles``).
    """
    # Imported here: agents.multiagent's learners import this module.
    from agents.multiagent.base import TeamEpisode

    max_steps = FALLBACK_MAX_STEPS if max_steps is None else max_steps
    obs, infos = env.reset(seed=seed)
    team = TeamEpisode()
    team.start(env.agents)
    n_agents = max(len(env.agents), 1)
    first = env.agents[0] if env.agents else None
    last_info: dict[str, Any] = dict(infos.get(first, {})) if first is not None else {}
    discounted, discount, stats = 0.0, 1.0, None
    stopped = on_frame is not None and not on_frame()
    while not stopped and stats is None and env.agents and team.length < max_steps:
        # The last step's observations include agents that have just finished; only the
        # live ones act.
        live = {a: obs[a] for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(agent.act(live, deterministic))
        stats = team.record(rewards, terminations, truncations, infos, team.length + 1)
        discounted += discount * sum(float(r) for r in rewards.values()) / n_agents
        discount *= gamma
        if first in infos:
            last_info = dict(infos[first])
        stopped = on_frame is not None and not on_frame()
    success = stats.success if stats is not None else False
    return EpisodeResult(
        team.team_return, discounted, team.length, success, stats is not None, last_info
    )


def mean_return(
    agent: Agent, env: gym.Env, episodes: int, *, seed: int = 0, max_steps: int = 10_000
) -> tuple[float, float]:
    """(mean return, success rate) of the greedy policy over ``episodes`` episodes.

    Only the first reset is seeded, so two agents evaluated with the same ``seed`` face the
    same random draws wherever their policies agree, which shrinks the noise in comparisons.
    """
    returns, successes = 0.0, 0
    for i in range(episodes):
        result = run_episode(agent, env, seed=seed if i == 0 else None, max_steps=max_steps)
        returns += result.episode_return
        successes += result.success
    return returns / episodes, successes / episodes


class StopWhenOptimal(Callback):
    """After every training episode, play one greedy episode; stop learning once it is optimal.

    Meant for deterministic envs, where one greedy episode is the policy's exact return.
    ``target`` is compared with the discounted return (``gamma``); pass the result of
    :func:`run_episode` for an optimal agent (value iteration) to compare like with like.
    """

    def __init__(
        self,
        eval_env: gym.Env,
        target: float,
        *,
        gamma: float = 1.0,
        max_steps: int = 10_000,
        tolerance: float = 1e-9,
    ) -> None:
        self.eval_env = eval_env
        self.target = target
        self.gamma = gamma
        self.max_steps = max_steps
        self.tolerance = tolerance
        self.episodes = 0
        self.solved_at: int | None = None  # training episodes done when first optimal

    def on_episode_end(self, agent: Agent, episode: EpisodeStats) -> None:
        self.episodes += 1
        result = run_episode(agent, self.eval_env, gamma=self.gamma, max_steps=self.max_steps)
        if math.isclose(result.discounted_return, self.target, rel_tol=0, abs_tol=self.tolerance):
            self.solved_at = self.episodes

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        return self.solved_at is None


def episodes_until_optimal(
    agent: Agent,
    env: gym.Env,
    eval_env: gym.Env,
    target: float,
    *,
    gamma: float = 1.0,
    max_env_steps: int = 1_000_000,
    max_steps: int = 10_000,
) -> int | None:
    """Training episodes ``agent`` needs before its greedy episode scores ``target``.

    None when it is not optimal within ``max_env_steps`` training steps.
    """
    callback = StopWhenOptimal(eval_env, target, gamma=gamma, max_steps=max_steps)
    agent.learn(env, agent.num_steps + max_env_steps, callback)
    return callback.solved_at


class EvalCurve(Callback):
    """A learning curve of greedy evaluations: every ``every`` training steps, the mean
    return of ``episodes`` greedy episodes (:func:`mean_return`, first reset seeded with
    ``seed``, so every check of every agent faces the same draws where policies agree).

    :attr:`evaluations` holds (steps, mean return) per check; :attr:`solved_at` the steps
    at the first check whose mean reached ``threshold`` (None: not yet, or no threshold).
    Learning goes on after it: :class:`SolveTimer` is the variant that stops there.
    """

    def __init__(
        self,
        eval_env: gym.Env,
        *,
        every: int,
        episodes: int = 20,
        seed: int = 0,
        threshold: float | None = None,
    ) -> None:
        if every < 1 or episodes < 1:
            raise ValueError(f"every and episodes must be >= 1, got {every} and {episodes}")
        self.eval_env = eval_env
        self.every = every
        self.episodes = episodes
        self.seed = seed
        self.threshold = threshold
        self.next_check = every
        self.evaluations: list[tuple[int, float]] = []  # (steps, mean return) per check
        self.solved_at: int | None = None  # training steps at the first check >= threshold

    def due(self, num_steps: int) -> bool:
        """Whether a check is due after ``num_steps`` training steps."""
        return num_steps >= self.next_check

    def evaluate(self, agent: Agent, num_steps: int) -> float:
        """Run a check now (also outside the schedule, e.g. before learning); returns its
        mean return."""
        mean, _ = mean_return(agent, self.eval_env, self.episodes, seed=self.seed)
        self.evaluations.append((num_steps, mean))
        while self.next_check <= num_steps:
            self.next_check += self.every
        if self.solved_at is None and self.threshold is not None and mean >= self.threshold:
            self.solved_at = num_steps
        return mean

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        if self.due(num_steps):
            self.evaluate(agent, num_steps)
        return True


class SolveTimer(EvalCurve):
    """Every ``every`` training steps, play ``episodes`` greedy episodes; stop learning once
    their mean return reaches ``threshold``.

    The time-to-solve measure of RL Baselines3 Zoo style benchmarks: :attr:`train_time_s` is
    the wall-clock time from construction (create it right before ``learn``) to the check
    that succeeded, with the evaluations themselves left out; :attr:`train_cpu_s` is the
    process's CPU time over the same spans, the steadier figure on a shared machine. ``act``
    is all it needs of the agent, so the benchmark wraps a peer library's model the same way.
    """

    def __init__(
        self,
        eval_env: gym.Env,
        threshold: float,
        *,
        every: int = 5_000,
        episodes: int = 20,
        seed: int = 0,
    ) -> None:
        super().__init__(eval_env, every=every, episodes=episodes, seed=seed, threshold=threshold)
        self.train_time_s = 0.0  # training time up to now (or to the solving check)
        self.train_cpu_s = 0.0  # CPU time of the process over the same spans
        self._resumed = time.perf_counter()
        self._resumed_cpu = time.process_time()

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        if not self.due(num_steps):
            return True
        self.train_time_s += time.perf_counter() - self._resumed
        self.train_cpu_s += time.process_time() - self._resumed_cpu
        self.evaluate(agent, num_steps)
        if self.solved_at is not None:
            return False
        self._resumed = time.perf_counter()
        self._resumed_cpu = time.process_time()
        return True
