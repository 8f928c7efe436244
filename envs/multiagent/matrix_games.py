"""Repeated two-player matrix games: climbing, penalty, stag hunt, prisoner's dilemma."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.multiagent.base import MultiAgentEnv, agent_color, agent_names, float_box
from renders.raster import RGB

N_PLAYERS = 2


@dataclass(frozen=True, eq=False)  # payoff arrays have no single truth value for ==
class MatrixGame:
    """A two-player normal-form game as data.

    ``payoffs[i, a0, a1]`` is agent ``i``'s reward when agent_0 plays ``a0`` and agent_1
    plays ``a1``. The optimum is the joint action with the highest mean payoff over the two
    agents (the team payoff in a cooperative game, the social welfare in a general-sum one).
    """

    name: str
    payoffs: np.ndarray
    action_names: tuple[str, ...]
    description: str = ""
    optimal_joint_actions: tuple[tuple[int, int], ...] = field(init=False)
    optimal_payoff: float = field(init=False)

    def __post_init__(self) -> None:
        payoffs = np.array(self.payoffs, dtype=np.float64)
        n = len(self.action_names)
        if payoffs.shape != (N_PLAYERS, n, n):
            raise ValueError(
                f"game {self.name!r}: payoffs must have shape ({N_PLAYERS}, {n}, {n}) for "
                f"{n} actions, got {payoffs.shape}"
            )
        payoffs.setflags(write=False)
        welfare = payoffs.mean(axis=0)
        best = float(welfare.max())
        optima = tuple((int(a0), int(a1)) for a0, a1 in np.argwhere(welfare == best))
        object.__setattr__(self, "payoffs", payoffs)
        object.__setattr__(self, "optimal_joint_actions", optima)
        object.__setattr__(self, "optimal_payoff", best)

    @property
    def n_actions(self) -> int:
        return len(self.action_names)

    @property
    def cooperative(self) -> bool:
        """Whether both agents always get the same payoff."""
        return bool(np.array_equal(self.payoffs[0], self.payoffs[1]))

    def rewards(self, a0: int, a1: int) -> tuple[float, float]:
        """(agent_0's, agent_1's) payoff for the joint action (a0, a1)."""
        return float(self.payoffs[0, a0, a1]), float(self.payoffs[1, a0, a1])


def cooperative_game(
    name: str, table: list[list[float]], action_names: tuple[str, ...], description: str
) -> MatrixGame:
    """A game where both agents receive ``table[a0][a1]``."""
    return MatrixGame(name, np.stack([table, table]), action_names, description)


def symmetric_game(
    name: str, row_table: list[list[float]], action_names: tuple[str, ...], description: str
) -> MatrixGame:
    """A symmetric game: agent_0 gets ``row_table[a0][a1]``, agent_1 ``row_table[a1][a0]``."""
    row = np.asarray(row_table, dtype=np.float64)
    return MatrixGame(name, np.stack([row, row.T]), action_names, description)


CLIMBING = cooperative_game(
    "climbing",
    [[11, -30, 0], [-30, 7, 6], [0, 0, 5]],
    ("a", "b", "c"),
    "Claus & Boutilier (1998): the optimum (a, a) = 11 sits next to -30 penalties, so "
    "independent learners drift to (b, b) or (c, c)",
)

PENALTY_K = -10.0


def penalty_game(k: float = PENALTY_K) -> MatrixGame:
    """Claus & Boutilier's penalty game: (a, a) and (c, c) pay 10, mixing them pays ``k``."""
    return cooperative_game(
        "penalty",
        [[10, 0, k], [0, 2, 0], [k, 0, 10]],
        ("a", "b", "c"),
        f"two optima (a, a) and (c, c) worth 10; miscoordinating between them costs {k}",
    )


STAG_HUNT = symmetric_game(
    "stag_hunt",
    [[4, 0], [3, 3]],
    ("stag", "hare"),
    "hunting the stag together pays 4 each; a hare pays 3 whatever the other does, and a "
    "lone stag hunter gets 0",
)

PRISONERS_DILEMMA = symmetric_game(
    "prisoners_dilemma",
    [[3, 0], [5, 1]],
    ("cooperate", "defect"),
    "Axelrod's payoffs: mutual cooperation 3 each, mutual defection 1, a lone defector 5 "
    "against the sucker's 0",
)

GAMES: dict[str, MatrixGame] = {
    game.name: game for game in (CLIMBING, penalty_game(), STAG_HUNT, PRISONERS_DILEMMA)
}
"""The named games, the penalty game at its default k."""

# Frame layout: one square per joint action, with a strip for each agent's choice.
_CELL = 48
_STRIP = 10
_BACKGROUND: RGB = (236, 236, 236)
_LOW: RGB = (196, 64, 64)  # worst payoff
_HIGH: RGB = (64, 168, 80)  # best payoff


class MatrixGameEnv(MultiAgentEnv):
    """A repeated two-player matrix game (``metadata["name"]`` is ``"<game>_v0"``).

    ## Description
    Two agents play the same normal-form game ``max_cycles`` times. The named games are
    ``"climbing"`` and ``"penalty"`` (Claus & Boutilier 1998, cooperative: both agents get
    the same payoff), ``"stag_hunt"`` and ``"prisoners_dilemma"`` (symmetric general-sum:
    each agent gets its own payoff). The tables are data: :data:`GAMES`,
    :func:`penalty_game` and the :class:`MatrixGame` passed as ``game``, whose
    ``optimal_joint_actions`` and ``optimal_payoff`` give the optimum for tests and
    benchmarks.

    ## Action Space
    ``Discrete(n)`` per agent, the row (agent_0) or column (agent_1) of the table: 3 for
    climbing and penalty (a, b, c), 2 for stag hunt (stag, hare) and prisoner's dilemma
    (cooperate, defect). An action outside the space raises ValueError naming the agent.

    ## Observation Space
    ``Discrete(n * n + 1)``, the same for both agents: the previous joint action as
    ``a0 * n + a1`` (a numpy int64), and ``n * n`` on the first step (nothing played yet).
    A memory-one observation, as usual for repeated games; a stateless learner may ignore
    it.
    ``state()`` is the one-hot encoding of that observation (float32, length n * n + 1).

    ## Rewards
    ``payoffs[i, a0, a1]`` for agent ``i`` each step: climbing ``[[11, -30, 0], [-30, 7,
    6], [0, 0, 5]]``; penalty ``[[10, 0, k], [0, 2, 0], [k, 0, 10]]``; stag hunt (row
    player) ``[[4, 0], [3, 3]]``; prisoner's dilemma (row player) ``[[3, 0], [5, 1]]``. In
    the symmetric games agent_1 gets the transposed table.

    ## Episode End
    No termination; every agent is truncated after ``max_cycles`` rounds.
    ``infos[agent]`` always holds ``"optimal_joint_actions"`` (every joint action with the
    best mean payoff), ``"optimal_joint_action"`` (the first of them) and
    ``"optimal_payoff"`` (that mean payoff, per agent and round); after a step it also
    holds ``"joint_action"`` (a0, a1).

    ## Arguments
    - ``game``: a name from :data:`GAMES` or a :class:`MatrixGame` (default
      ``"climbing"``).
    - ``k``: the miscoordination payoff of the penalty game (default -10); only valid with
      ``game="penalty"``.
    - ``max_cycles``: rounds per episode (default 25).
    - ``render_mode``: None, ``"rgb_array"`` (the table shaded by payoff, each agent's last
      choice marked in its colour) or ``"human"``.

    ## Version History
    - v0: initial version.
    """

    metadata = {
        "name": "matrix_game_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        game: str | MatrixGame = "climbing",
        k: float | None = None,
        max_cycles: int = 25,
        render_mode: str | None = None,
    ) -> None:
        self.game = _resolve_game(game, k)
        self.metadata = {**self.metadata, "name": f"{self.game.name}_v0"}
        n = self.game.n_actions
        self._start = n * n
        super().__init__(
            agents=agent_names("agent", N_PLAYERS),
            observation_space=spaces.Discrete(n * n + 1),
            action_space=spaces.Discrete(n),
            state_space=float_box(n * n + 1),
            max_cycles=max_cycles,
            render_mode=render_mode,
        )
        self._last = self._start

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.int64], dict[str, dict[str, Any]]]:
        self._begin_episode(seed)
        self._last = self._start
        return self._observations(), self._infos()

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        self._check_actions(actions)
        a0, a1 = (int(actions[agent]) for agent in self.possible_agents)
        self._last = a0 * self.game.n_actions + a1
        rewards = dict(zip(self.possible_agents, self.game.rewards(a0, a1), strict=True))
        observations, infos = self._observations(), self._infos()
        for info in infos.values():
            info["joint_action"] = (a0, a1)
        terminations, truncations = self._end_cycle(terminated=False)
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        state = np.zeros(self.state_space.shape, dtype=np.float32)
        state[self._last] = 1.0
        return state

    def _observations(self) -> dict[str, np.int64]:
        # numpy scalars carry the space's dtype, as PettingZoo's API test requires.
        return dict.fromkeys(self.agents, np.int64(self._last))

    def _infos(self) -> dict[str, dict[str, Any]]:
        return {
            agent: {
                "optimal_joint_actions": self.game.optimal_joint_actions,
                "optimal_joint_action": self.game.optimal_joint_actions[0],
                "optimal_payoff": self.game.optimal_payoff,
            }
            for agent in self.agents
        }

    def _frame(self) -> np.ndarray:
        """The table, each square shaded from red (worst mean payoff) to green (best), with
        agent_0's last row marked on the left and agent_1's last column on top."""
        n = self.game.n_actions
        welfare = self.game.payoffs.mean(axis=0)
        spread = welfare.max() - welfare.min()
        shade = (welfare - welfare.min()) / spread if spread else np.ones_like(welfare)
        low, high = np.asarray(_LOW, dtype=np.float64), np.asarray(_HIGH, dtype=np.float64)
        colors = (low + shade[..., None] * (high - low)).astype(np.uint8)  # (n, n, 3)

        size = _STRIP + n * _CELL
        frame = np.empty((size, size, 3), dtype=np.uint8)
        frame[:] = _BACKGROUND
        table = np.repeat(np.repeat(colors, _CELL, axis=0), _CELL, axis=1)
        frame[_STRIP:, _STRIP:] = table
        frame[_STRIP:, _STRIP::_CELL] = _BACKGROUND  # one-pixel gaps between squares
        frame[_STRIP::_CELL, _STRIP:] = _BACKGROUND
        if self._last != self._start:
            a0, a1 = divmod(self._last, n)
            frame[_STRIP + a0 * _CELL : _STRIP + (a0 + 1) * _CELL, :_STRIP] = agent_color(0)
            frame[:_STRIP, _STRIP + a1 * _CELL : _STRIP + (a1 + 1) * _CELL] = agent_color(1)
        return frame


def _resolve_game(game: str | MatrixGame, k: float | None) -> MatrixGame:
    if isinstance(game, MatrixGame):
        if k is not None:
            raise ValueError("k applies only to game='penalty', not to a MatrixGame instance")
        return game
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; valid games: {', '.join(GAMES)}")
    if game == "penalty":
        if k is None:
            return GAMES[game]
        if isinstance(k, bool) or not isinstance(k, int | float):
            raise ValueError(f"k must be a number, got {k!r}")
        return penalty_game(float(k))
    if k is not None:
        raise ValueError(f"k applies only to game='penalty', not to {game!r}")
    return GAMES[game]


__all__ = [
    "CLIMBING",
    "GAMES",
    "PRISONERS_DILEMMA",
    "STAG_HUNT",
    "MatrixGame",
    "MatrixGameEnv",
    "cooperative_game",
    "penalty_game",
    "symmetric_game",
]
