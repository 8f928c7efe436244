"""What every multi-agent learner shares: the interface and team-episode bookkeeping.

A :class:`MultiAgentLearner` acts for all agents of a PettingZoo ``ParallelEnv`` at once
(``act`` maps a dict of observations to a dict of actions) and learns from such an env.
Agents are homogeneous (the spec of ``envs/multiagent``), so the learner holds the one
per-agent observation and action space, plus the agent names and, for centralised critics,
the global ``state_space``.

``total_steps`` and ``num_steps`` count *parallel* env steps: one ``env.step(actions)`` moves
every live agent and counts once. Callbacks see the *team* return of an episode, the mean
over agents of each agent's undiscounted return (:class:`TeamEpisode`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import gymnasium as gym
from pettingzoo import ParallelEnv

from agents.base import Agent, Callback, EpisodeStats

LearnerT = TypeVar("LearnerT", bound="MultiAgentLearner")


class MultiAgentLearner(Agent):
    """A learner for every agent of a ``ParallelEnv`` with homogeneous agents.

    ``observation_space`` and ``action_space`` are those of one agent (all agents share
    them); ``agents`` names the agents in the env's ``possible_agents`` order; ``state_space``
    is the env's global state space where a learner uses ``env.state()``.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any = None,
        seed: int | None = None,
        *,
        agents: Sequence[str],
        state_space: gym.Space | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        self.agents = list(agents)
        if not self.agents:
            raise ValueError("a multi-agent learner needs at least one agent name")
        if len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agent names must be distinct, got {self.agents}")
        self.state_space = state_space

    @classmethod
    def for_env(
        cls: type[LearnerT], env: ParallelEnv, config: Any = None, seed: int | None = None
    ) -> LearnerT:
        """A learner sized for ``env``: its first agent's spaces, its agents and state space."""
        first = env.possible_agents[0]
        return cls(
            env.observation_space(first),
            env.action_space(first),
            config,
            seed,
            agents=env.possible_agents,
            state_space=getattr(env, "state_space", None),
        )

    def check_env(self, env: ParallelEnv) -> None:
        """Fail before training when ``env`` has other agents or spaces than this learner."""
        if list(env.possible_agents) != self.agents:
            raise ValueError(
                f"env agents {list(env.possible_agents)} differ from the learner's {self.agents}"
            )
        for agent in self.agents:
            for role, ours, theirs in (
                ("observation", self.observation_space, env.observation_space(agent)),
                ("action", self.action_space, env.action_space(agent)),
            ):
                if ours != theirs:
                    raise ValueError(
                        f"env {role} space of agent {agent!r} is {theirs}, "
                        f"but the learner was built for {ours}"
                    )

    @abstractmethod
    def act(self, observations: dict[str, Any], deterministic: bool = True) -> dict[str, Any]:
        """One action per agent in ``observations`` (the live agents)."""

    @abstractmethod
    def learn(self, env: ParallelEnv, total_steps: int, callback: Callback | None = None) -> None:
        """Train until ``self.num_steps`` (parallel env steps) reaches ``total_steps``."""


class TeamEpisode:
    """Accumulates one ``ParallelEnv`` episode and reports it as :class:`EpisodeStats`.

    Call :meth:`start` after ``reset`` and :meth:`record` after every ``step``; ``record``
    returns the stats on the step that finishes the last live agent, else None. An agent's
    success is its ``infos[agent]["is_success"]`` on the step it finished (False when the env
    does not report it); the team succeeds when every agent did.
    """

    def __init__(self) -> None:
        self.returns: dict[str, float] = {}
        self.length = 0
        self._live: set[str] = set()
        self._success: dict[str, bool] = {}

    def start(self, agents: Sequence[str]) -> None:
        """Begin an episode for the agents live after ``reset``."""
        self.returns = dict.fromkeys(agents, 0.0)
        self.length = 0
        self._live = set(agents)
        self._success = {}

    @property
    def done(self) -> bool:
        """True once every agent has terminated or been truncated."""
        return not self._live

    def record(
        self,
        rewards: Mapping[str, float],
        terminations: Mapping[str, bool],
        truncations: Mapping[str, bool],
        infos: Mapping[str, Mapping[str, Any]],
        step: int,
    ) -> EpisodeStats | None:
        """Add one parallel step; ``step`` is the learner's step count after it."""
        self.length += 1
        for agent, reward in rewards.items():
            self.returns[agent] = self.returns.get(agent, 0.0) + float(reward)
        for agent in list(self._live):
            if terminations.get(agent, False) or truncations.get(agent, False):
                self._live.discard(agent)
                self._success[agent] = bool(infos.get(agent, {}).get("is_success", False))
        if self._live:
            return None
        return EpisodeStats(step, self.team_return, self.length, all(self._success.values()))

    @property
    def team_return(self) -> float:
        """Mean over agents of each agent's undiscounted return so far."""
        return sum(self.returns.values()) / len(self.returns) if self.returns else 0.0
