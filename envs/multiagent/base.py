"""Parts every palaestra multi-agent env shares, written once.

:class:`MultiAgentEnv` is a PettingZoo ``ParallelEnv`` base that holds what the spec makes
common: homogeneous cached spaces, ``max_cycles`` truncation bookkeeping, action checking
that names the agent, seeding through ``np_random`` and rgb/human rendering through
:class:`envs.rendering.FrameRenderer`. A subclass builds its spaces, then implements
``reset``, ``step``, ``state`` and ``_frame``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.rendering import FrameRenderer
from renders.gridworld import AGENT_COLOR
from renders.raster import RGB

AGENT_COLORS: tuple[RGB, ...] = (
    AGENT_COLOR,  # red: the single-agent gridworld's agent, so agent_0 looks the same
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (148, 103, 189),  # purple
    (23, 190, 207),  # cyan
    (227, 119, 194),  # pink
    (140, 86, 75),  # brown
    (188, 189, 34),  # olive
)
"""Distinct agent colours, none close to the gridworld floor, wall or goal tiles."""


def agent_color(index: int) -> RGB:
    """The colour of agent ``index``; the palette repeats past its length."""
    return AGENT_COLORS[index % len(AGENT_COLORS)]


def agent_names(prefix: str, count: int) -> list[str]:
    """``[f"{prefix}_0", ..., f"{prefix}_{count - 1}"]``, PettingZoo's naming."""
    return [f"{prefix}_{i}" for i in range(check_int("number of agents", count, minimum=1))]


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int, or ValueError naming ``name`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_actions(
    actions: Mapping[str, Any],
    live_agents: Sequence[str],
    action_space_of: Callable[[str], spaces.Space],
) -> None:
    """Raise ValueError naming the agent when an action is missing for a live agent, given
    for an agent that is not live, or outside that agent's action space."""
    if not isinstance(actions, Mapping):
        raise ValueError(f"actions must be a dict keyed by agent, got {type(actions).__name__}")
    live = list(live_agents)
    extra = [agent for agent in actions if agent not in live]
    if extra:
        raise ValueError(
            f"actions given for {', '.join(map(repr, extra))}, which are not live agents; "
            f"live agents: {live}"
        )
    for agent in live:
        if agent not in actions:
            raise ValueError(f"no action for live agent {agent!r}; live agents: {live}")
        space = action_space_of(agent)
        action = actions[agent]
        if isinstance(action, str | float) or not space.contains(action):
            raise ValueError(
                f"invalid action {action!r} for agent {agent!r}; valid actions: "
                f"{describe_actions(space)}"
            )


def describe_actions(space: spaces.Space) -> str:
    """A short human-readable list of a space's valid actions, for error messages."""
    if isinstance(space, spaces.Discrete):
        return f"integers {space.start}..{space.start + space.n - 1}"
    return str(space)


def float_box(size: int, low: float = 0.0, high: float = 1.0) -> spaces.Box:
    """A flat float32 Box, the form of every observation vector and global state here."""
    return spaces.Box(low=np.float32(low), high=np.float32(high), shape=(size,), dtype=np.float32)


class MultiAgentEnv(ParallelEnv):
    """Base of palaestra's ParallelEnvs: homogeneous agents, ``max_cycles`` truncation.

    Subclasses set ``metadata``, call ``__init__`` with their agents and spaces, and in
    ``reset`` call :meth:`_begin_episode` (seeds ``np_random``, restores the agents); in
    ``step`` call :meth:`_check_actions` first and :meth:`_end_cycle` last. ``max_cycles``
    is read on every step, so PettingZoo's tests may change it on a live env.
    """

    metadata: dict[str, Any] = {}

    def __init__(
        self,
        agents: Sequence[str],
        observation_space: spaces.Space,
        action_space: spaces.Space,
        state_space: spaces.Box,
        max_cycles: int,
        render_mode: str | None,
    ) -> None:
        self.possible_agents: list[str] = list(agents)
        self.agents: list[str] = []
        self._observation_space = observation_space
        self._action_space = action_space
        self.observation_spaces = dict.fromkeys(self.possible_agents, observation_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, action_space)
        self.state_space = state_space
        self.max_cycles = check_int("max_cycles", max_cycles, minimum=1)
        self.num_cycles = 0
        self._renderer = FrameRenderer(render_mode, self.metadata, self.metadata["name"])
        self.render_mode = render_mode
        self.np_random, _ = seeding.np_random()

    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return self._action_space

    def _check_agent(self, agent: str) -> None:
        if agent not in self.observation_spaces:
            raise ValueError(f"unknown agent {agent!r}; agents: {self.possible_agents}")

    def _begin_episode(self, seed: int | None) -> None:
        """Reseed (when ``seed`` is given), bring every agent back, zero the cycle count."""
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self.num_cycles = 0

    def _check_actions(self, actions: Mapping[str, Any]) -> None:
        if not self.agents:
            raise ValueError("step() called with no live agents; call reset() first")
        check_actions(actions, self.agents, self.action_space)

    def _end_cycle(
        self, terminated: Mapping[str, bool] | bool
    ) -> tuple[dict[str, bool], dict[str, bool]]:
        """Count a cycle and return (terminations, truncations) for the agents that acted;
        agents that terminated or hit ``max_cycles`` leave ``self.agents``.

        ``terminated`` is one flag for the whole team or one per live agent.
        """
        self.num_cycles += 1
        acting = list(self.agents)
        if isinstance(terminated, Mapping):
            terminations = {agent: bool(terminated[agent]) for agent in acting}
        else:
            terminations = dict.fromkeys(acting, bool(terminated))
        out_of_time = self.num_cycles >= self.max_cycles
        truncations = {agent: out_of_time and not terminations[agent] for agent in acting}
        self.agents = [a for a in acting if not (terminations[a] or truncations[a])]
        return terminations, truncations

    def render(self) -> np.ndarray | None:
        return self._renderer.render(self._frame)

    def _frame(self) -> np.ndarray:
        """The current scene as an (H, W, 3) uint8 image."""
        raise NotImplementedError

    def close(self) -> None:
        self._renderer.close()


__all__ = [
    "AGENT_COLORS",
    "MultiAgentEnv",
    "agent_color",
    "agent_names",
    "check_actions",
    "check_int",
    "describe_actions",
    "float_box",
]
