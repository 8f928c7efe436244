"""The interface every palaestra learner implements.

Acting and learning are separate: :meth:`Agent.act` maps one observation to one action
(the policy) and touches no learning state; :meth:`Agent.learn` collects experience from an
environment and updates the agent. ``learn`` continues from ``agent.num_steps``, so calling
it again on a loaded checkpoint resumes training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym


@dataclass(frozen=True)
class EpisodeStats:
    """One finished training episode, as reported to callbacks."""

    step: int  # environment steps done when the episode ended (all envs together)
    episode_return: float
    length: int
    success: bool


class Callback:
    """Hooks a learner calls while it trains. Override what you need."""

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        """After every environment step (``num_steps`` counts all envs). False stops learning."""
        return True

    def on_episode_end(self, agent: Agent, episode: EpisodeStats) -> None:
        """After each finished episode."""

    def on_update(self, agent: Agent, metrics: dict[str, float]) -> None:
        """After a learning update, with scalar diagnostics (loss, epsilon, ...)."""


class Agent(ABC):
    """A learner. Subclasses set ``name`` (the command-line agent name), ``config_class`` and
    ``checkpoint_suffix`` (the file format :meth:`save` writes: ``.npz`` tables, ``.pt`` torch)."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    checkpoint_suffix: ClassVar[str]

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any = None,
        seed: int | None = None,
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.config = config if config is not None else self.config_class()
        self.seed = seed
        self.num_steps = 0  # environment steps learned from so far

    @abstractmethod
    def act(self, obs: Any, deterministic: bool = True) -> Any:
        """The action for one observation. ``deterministic`` selects the greedy action."""

    def start_episode(self) -> None:
        """Called before the first :meth:`act` of every episode played with
        :func:`~agents.evaluation.run_episode`: a policy with a memory of earlier steps (a
        recurrent state) clears it here. Memoryless policies need nothing."""
        return None

    @abstractmethod
    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        """Train until ``self.num_steps`` reaches ``total_steps`` (or a callback stops it)."""

    @abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write the agent to ``path`` atomically and return the path written."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path) -> Agent:
        """Read an agent written by :meth:`save`; it acts exactly as the saved one did."""
