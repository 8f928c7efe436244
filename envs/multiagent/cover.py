"""CoverEnv: a team of agents spreads out to cover every target on a gridworld map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.multiagent.base import MultiAgentEnv, agent_names, check_int, float_box
from envs.multiagent.grid import (
    GRID_MOVES,
    draw_agents_scene,
    grid_distances,
    move_agents,
    parse_wall_map,
)

COVER_MAP = (
    ".......",
    ".......",
    "..#.#..",
    ".......",
    "..#.#..",
    ".......",
    ".......",
)
"""The default 7x7 room, with four pillars that paths must go round."""

COLLISION_PENALTY = 0.1


class CoverEnv(MultiAgentEnv):
    """Cooperative coverage: N agents must stand on N targets at the same time.

    ## Description
    A discrete, gridworld form of MPE's ``simple_spread``. ``n_agents`` agents and as many
    targets are placed on distinct floor cells of a map ('.' floor, '#' wall; default
    :data:`COVER_MAP`, 7x7 with four pillars); no target starts under an agent. Agents move
    at the same time. A target is covered while any agent stands on it; the team succeeds
    when every target is covered at once, which needs the agents to spread over different
    targets. Agent starts and targets are drawn from the reset seed, or fixed with
    ``agent_starts`` and ``targets``.

    ## Action Space
    ``Discrete(5)`` per agent: 0 up, 1 right, 2 down, 3 left (the single-agent gridworld's
    order), 4 stay. A move into a wall or off the map leaves the agent in place. A move
    that would end in the same cell as another agent (two agents into one cell, or into an
    agent that stays or is blocked) or swap two agents is blocked and counts as a collision
    for each agent making it; an agent may follow one that moves away. An invalid or
    missing action raises ValueError naming the agent.

    ## Observation Space
    ``Box(-1, 1, (2 + 3 N + 2 (N - 1) + 4,), float32)``, the same layout for every agent
    (19 floats for 3 agents), in this order:

    - own position: row / (H - 1), col / (W - 1);
    - each target in target order: its offset from the agent, (d_row / (H - 1),
      d_col / (W - 1));
    - each target in target order: 1.0 if covered (any agent on it), else 0.0;
    - each other agent, starting with the next one by index and wrapping round: its offset
      from the agent, scaled as above;
    - 1.0 for each of up, right, down, left that is a wall or the map edge.

    A map one cell high or wide uses 1 for the scale of that axis.

    ``state()``: ``Box(0, 1, (2 N + 3 N + 1,), float32)``: every agent's position, every
    target's position (both scaled as above), the covered flags, and
    ``num_cycles / max_cycles``.

    ## Rewards
    One team reward, the same for every agent, each step::

        -mean over targets of (shortest-path distance to the nearest agent) / D
        - 0.1 * (number of agents whose move collided)

    with ``D`` the longest shortest path between two floor cells of the map. The first
    term is a dense, wall-aware form of ``simple_spread``'s, in [-1, 0], and 0 exactly when
    every target is covered; so the quickest joint route to full coverage has the highest
    return.

    ## Episode End
    Terminates (success) as soon as every target is covered at once; truncates after
    ``max_cycles`` steps. ``infos[agent]`` holds ``"is_success"`` (every target covered),
    ``"covered_targets"`` (how many) and ``"collisions"`` (agents blocked by another this
    step).

    ## Arguments
    - ``n_agents``: agents and targets (default 3; the map needs ``2 * n_agents`` floor
      cells).
    - ``map``: the map as ASCII rows or one newline-separated string (default
      :data:`COVER_MAP`).
    - ``agent_starts``, ``targets``: ``n_agents`` distinct (row, col) floor cells to use in
      every episode instead of random ones (default None: drawn per episode).
    - ``max_cycles``: steps before truncation (default 50).
    - ``tile_size``: pixels per cell in rendered frames (default 32).
    - ``render_mode``: None, ``"rgb_array"`` (targets as green tiles, agent ``i`` in
      colour ``i`` of :data:`envs.multiagent.base.AGENT_COLORS`) or ``"human"``.
    ``reset``'s ``options`` are ignored.

    ## Version History
    - v0: initial version.
    """

    metadata = {
        "name": "coop_cover_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 8,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        n_agents: int = 3,
        map: Sequence[str] | str = COVER_MAP,
        agent_starts: Sequence[tuple[int, int]] | None = None,
        targets: Sequence[tuple[int, int]] | None = None,
        max_cycles: int = 50,
        tile_size: int = 32,
        render_mode: str | None = None,
    ) -> None:
        n_agents = check_int("n_agents", n_agents, minimum=1)
        self.walls = parse_wall_map(map)
        self.height, self.width = self.walls.shape
        self._free = np.argwhere(~self.walls)
        if len(self._free) < 2 * n_agents:
            raise ValueError(
                f"map has {len(self._free)} floor cells; {n_agents} agents and "
                f"{n_agents} targets need {2 * n_agents}"
            )
        self._fixed_starts = self._check_cells("agent_starts", agent_starts, n_agents)
        self._fixed_targets = self._check_cells("targets", targets, n_agents)
        if self._fixed_starts is not None and self._fixed_targets is not None:
            starts = {tuple(c) for c in self._fixed_starts.tolist()}
            shared = starts & {tuple(c) for c in self._fixed_targets.tolist()}
            if shared:
                raise ValueError(f"targets {sorted(shared)} are also agent starts")
        self.tile_size = check_int("tile_size", tile_size, minimum=1)

        self._distances = grid_distances(self.walls)
        self._diameter = max(1, int(self._distances.max()))
        self._scale = np.array([max(1, self.height - 1), max(1, self.width - 1)], dtype=np.float32)
        n = n_agents
        super().__init__(
            agents=agent_names("agent", n),
            observation_space=float_box(2 + 3 * n + 2 * (n - 1) + 4, low=-1.0),
            action_space=spaces.Discrete(len(GRID_MOVES)),
            state_space=float_box(5 * n + 1),
            max_cycles=max_cycles,
            render_mode=render_mode,
        )
        self.positions = np.zeros((n, 2), dtype=np.int64)
        self.target_cells = np.zeros((n, 2), dtype=np.int64)

    def _check_cells(
        self, name: str, cells: Sequence[tuple[int, int]] | None, count: int
    ) -> np.ndarray | None:
        """``cells`` as an (count, 2) array after checking they are distinct floor cells."""
        if cells is None:
            return None
        array = np.asarray(cells)
        if array.shape != (count, 2) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"{name} must be {count} (row, col) int pairs, one per agent, got {cells!r}"
            )
        for i, (row, col) in enumerate(array):
            if not (0 <= row < self.height and 0 <= col < self.width) or self.walls[row, col]:
                raise ValueError(
                    f"{name}[{i}] = ({row}, {col}) is not a floor cell of the "
                    f"{self.height}x{self.width} map"
                )
        if len({tuple(c) for c in array.tolist()}) < count:
            raise ValueError(f"{name} must be distinct cells, got {cells!r}")
        return array.astype(np.int64)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._begin_episode(seed)
        self.positions, self.target_cells = self._place()
        return self._observations(), self._infos(self._covered(), 0)

    def _place(self) -> tuple[np.ndarray, np.ndarray]:
        """Agent starts and targets: the fixed ones, the rest on random free floor cells."""
        n = len(self.possible_agents)
        taken = [c for c in (self._fixed_starts, self._fixed_targets) if c is not None]
        used = {tuple(cell) for cells in taken for cell in cells.tolist()}
        available = np.array([c for c in self._free.tolist() if tuple(c) not in used])
        needed = n * sum(c is None for c in (self._fixed_starts, self._fixed_targets))
        drawn = available[self.np_random.choice(len(available), size=needed, replace=False)]
        starts = self._fixed_starts
        if starts is None:
            starts, drawn = drawn[:n], drawn[n:]
        targets = self._fixed_targets if self._fixed_targets is not None else drawn
        return starts.copy(), targets.copy()

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        self._check_actions(actions)
        joint = np.array([actions[agent] for agent in self.agents], dtype=np.int64)
        self.positions, collided = move_agents(self.positions, joint, self.walls)
        covered = self._covered()
        reward = float(-self._mean_target_distance() - COLLISION_PENALTY * collided.sum())
        success = bool(covered.all())
        observations = self._observations()
        infos = self._infos(covered, int(collided.sum()))
        rewards = dict.fromkeys(self.agents, reward)
        terminations, truncations = self._end_cycle(terminated=success)
        return observations, rewards, terminations, truncations, infos

    def _covered(self) -> np.ndarray:
        """(N,) bool: whether an agent stands on each target."""
        on = self.target_cells[:, None, :] == self.positions[None, :, :]
        return on.all(axis=2).any(axis=1)

    def _mean_target_distance(self) -> float:
        """Mean over targets of the shortest-path distance to the nearest agent, over D."""
        flat_targets = self.target_cells[:, 0] * self.width + self.target_cells[:, 1]
        flat_agents = self.positions[:, 0] * self.width + self.positions[:, 1]
        nearest = self._distances[flat_targets[:, None], flat_agents[None, :]].min(axis=1)
        return float(nearest.mean()) / self._diameter

    def _observations(self) -> dict[str, np.ndarray]:
        n = len(self.possible_agents)
        covered = self._covered().astype(np.float32)
        blocked = self._blocked_moves().astype(np.float32)
        observations = {}
        for i, agent in enumerate(self.possible_agents):
            if agent not in self.agents:
                continue
            own = self.positions[i]
            others = self.positions[(i + 1 + np.arange(n - 1)) % n]
            observations[agent] = np.concatenate(
                [
                    own / self._scale,
                    ((self.target_cells - own) / self._scale).ravel(),
                    covered,
                    ((others - own) / self._scale).ravel(),
                    blocked[i],
                ]
            ).astype(np.float32)
        return observations

    def _blocked_moves(self) -> np.ndarray:
        """(N, 4) bool: for each agent, whether up, right, down, left hit a wall or edge."""
        padded = np.pad(self.walls, 1, constant_values=True)
        around = self.positions[:, None, :] + 1 + GRID_MOVES[None, :4, :]
        return padded[around[..., 0], around[..., 1]]

    def _infos(self, covered: np.ndarray, collisions: int) -> dict[str, dict[str, Any]]:
        info = {
            "is_success": bool(covered.all()),
            "covered_targets": int(covered.sum()),
            "collisions": collisions,
        }
        return {agent: dict(info) for agent in self.agents}

    def state(self) -> np.ndarray:
        return np.concatenate(
            [
                (self.positions / self._scale).ravel(),
                (self.target_cells / self._scale).ravel(),
                self._covered(),
                [min(1.0, self.num_cycles / self.max_cycles)],
            ]
        ).astype(np.float32)

    def _frame(self) -> np.ndarray:
        return draw_agents_scene(self.walls, self.positions, self.tile_size, self.target_cells)


__all__ = ["COLLISION_PENALTY", "COVER_MAP", "CoverEnv"]
