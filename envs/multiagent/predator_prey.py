"""PredatorPreyEnv: predators cooperate to surround and catch scripted prey on a gridworld."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.multiagent.base import MultiAgentEnv, agent_names, check_int, float_box
from envs.multiagent.grid import (
    GRID_MOVES,
    STAY,
    draw_agents_scene,
    grid_distances,
    move_agents,
    parse_wall_map,
)
from renders.raster import RGB, convex_polygon_mask

PREDATOR_PREY_MAP = (
    ".......",
    ".#...#.",
    ".......",
    "...#...",
    ".......",
    ".#...#.",
    ".......",
)
"""The default 7x7 room with five pillars: a prey can circle a pillar away from one chaser,
so catching it takes predators closing in from two sides."""

PREY_COLOR: RGB = (34, 139, 34)
_PREY_DIAMOND = ((0.5, 0.16), (0.84, 0.5), (0.5, 0.84), (0.16, 0.5))


class PredatorPreyEnv(MultiAgentEnv):
    """Predators cooperate to catch scripted prey on a gridworld.

    ## Description
    ``n_predators`` predators (the agents, ``predator_0``...) and ``n_prey`` prey stand on
    distinct floor cells of a map ('.' floor, '#' wall; default :data:`PREDATOR_PREY_MAP`,
    7x7 with five pillars). Each step:

    1. the predators move at once, by the rules of :func:`envs.multiagent.grid.move_agents`
       (walls and the map edge block; no two animals ever share a cell, so a move into a
       prey, into another predator or a swap with one is blocked);
    2. every prey with at least ``capture_count`` predators on the four cells next to it is
       caught and leaves the board (a prey with fewer floor cells round it than that is
       caught once predators fill all of them);
    3. every remaining prey moves, in prey order: with probability ``flee_prob`` it takes
       the move (staying included) that leaves it farthest, in steps round the walls, from
       its nearest predator (ties: the larger summed distance to all predators, then at
       random); otherwise a uniformly random one of the five actions. A move into a wall,
       the edge, a predator or another prey becomes a stay.

    A single predator can never catch a prey under the default ``capture_count=2``, and a
    fleeing prey circles the pillars, so random predators seldom catch it within
    ``max_cycles`` (about 1 episode in 15 with the defaults) while predators that close in
    together do: :meth:`chase_actions` (each predator walks towards the nearest prey)
    catches it in 99 % of episodes, in about 11 steps. The prey is scripted; a learning prey
    is future work.

    ## Action Space
    ``Discrete(5)`` per predator: 0 up, 1 right, 2 down, 3 left (the single-agent
    gridworld's order), 4 stay. An invalid or missing action, or one for an agent that is
    not live, raises ValueError naming the agent.

    ## Observation Space
    ``Box(-1, 1, (2 + 3 M + 2 (N - 1) + 4,), float32)`` for ``N`` predators and ``M`` prey,
    the same layout for every predator (13 floats by default), in this order:

    - own position: row / (H - 1), col / (W - 1);
    - each prey: its offset from the predator, (d_row / (H - 1), d_col / (W - 1)), or (0, 0)
      once caught;
    - each prey: 1.0 while free, 0.0 once caught;
    - each other predator, starting with the next one by index and wrapping round: its
      offset from the predator, scaled as above;
    - 1.0 for each of up, right, down, left that is a wall or the map edge.

    A map one cell high or wide uses 1 for the scale of that axis.

    ``state()``: ``Box(0, 1, (2 N + 3 M + 1,), float32)``: every predator's position, every
    prey's position (0 once caught), the free flags (all scaled as above) and
    ``num_cycles / max_cycles``.

    ## Rewards
    One team reward, the same for every predator, each step: ``step_reward`` (default
    -0.01) plus ``capture_reward`` (default 1.0) for each prey caught in that step.

    ## Episode End
    Terminates (success) when the last prey is caught; truncates after ``max_cycles``
    steps. ``infos[agent]`` holds ``"is_success"`` (every prey caught) and
    ``"prey_caught"`` (how many so far).

    ## Arguments
    - ``n_predators``: predators (default 3). ``n_prey``: prey (default 1).
    - ``map``: the map as ASCII rows or one newline-separated string (default
      :data:`PREDATOR_PREY_MAP`); all floor must be connected.
    - ``capture_count``: predators next to a prey needed to catch it (default 2; at most
      ``n_predators``).
    - ``flee_prob``: probability that a prey flees rather than moves at random (0.8).
    - ``capture_reward`` (1.0), ``step_reward`` (-0.01): the team reward terms.
    - ``predator_starts``, ``prey_starts``: ``n_predators`` / ``n_prey`` (row, col) floor
      cells to use in every episode instead of random ones (default None: drawn per
      episode); all starts must be distinct.
    - ``max_cycles``: steps before truncation (default 100).
    - ``tile_size``: pixels per cell in rendered frames (default 32).
    - ``render_mode``: None, ``"rgb_array"`` (predator ``i`` as a disc in colour ``i`` of
      :data:`envs.multiagent.base.AGENT_COLORS`, prey as green diamonds) or ``"human"``.
    ``reset``'s ``options`` are ignored.

    ## Version History
    - v0: initial version.
    """

    metadata = {
        "name": "predator_prey_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 8,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        n_predators: int = 3,
        n_prey: int = 1,
        map: Sequence[str] | str = PREDATOR_PREY_MAP,
        capture_count: int = 2,
        flee_prob: float = 0.8,
        capture_reward: float = 1.0,
        step_reward: float = -0.01,
        predator_starts: Sequence[tuple[int, int]] | None = None,
        prey_starts: Sequence[tuple[int, int]] | None = None,
        max_cycles: int = 100,
        tile_size: int = 32,
        render_mode: str | None = None,
    ) -> None:
        n = check_int("n_predators", n_predators, minimum=1)
        m = self.n_prey = check_int("n_prey", n_prey, minimum=1)
        self.capture_count = check_int("capture_count", capture_count, minimum=1)
        if self.capture_count > n:
            raise ValueError(
                f"capture_count={capture_count} is more than n_predators={n_predators}: no "
                "prey could ever be caught"
            )
        if isinstance(flee_prob, bool) or not 0.0 <= flee_prob <= 1.0:
            raise ValueError(f"flee_prob must be a probability in [0, 1], got {flee_prob!r}")
        self.flee_prob = float(flee_prob)
        self.capture_reward = float(capture_reward)
        self.step_reward = float(step_reward)
        self.tile_size = check_int("tile_size", tile_size, minimum=1)

        self.walls = parse_wall_map(map)
        self.height, self.width = self.walls.shape
        self._floor = np.argwhere(~self.walls)
        if len(self._floor) < n + m:
            raise ValueError(
                f"map has {len(self._floor)} floor cells; {n} predators and {m} prey need {n + m}"
            )
        self._fixed_predators = check_floor_cells(self.walls, "predator_starts", predator_starts, n)
        self._fixed_prey = check_floor_cells(self.walls, "prey_starts", prey_starts, m)
        if self._fixed_predators is not None and self._fixed_prey is not None:
            shared = _as_set(self._fixed_predators) & _as_set(self._fixed_prey)
            if shared:
                raise ValueError(f"prey_starts {sorted(shared)} are also predator starts")

        self._distances = grid_distances(self.walls)
        padded = np.pad(self.walls, 1, constant_values=True)
        self._blocked = np.stack(  # (H, W, 4): up, right, down, left hit a wall or the edge
            [
                padded[1 + dr : 1 + dr + self.height, 1 + dc : 1 + dc + self.width]
                for dr, dc in GRID_MOVES[:STAY].tolist()
            ],
            axis=-1,
        )
        # Predators next to a prey needed to catch it: capture_count, or all its floor sides.
        self._needed = np.maximum(np.minimum(4 - self._blocked.sum(axis=-1), capture_count), 1)
        self._scale = np.array([max(1, self.height - 1), max(1, self.width - 1)], dtype=np.float32)
        super().__init__(
            agents=agent_names("predator", n),
            observation_space=float_box(2 + 3 * m + 2 * (n - 1) + 4, low=-1.0),
            action_space=spaces.Discrete(len(GRID_MOVES)),
            state_space=float_box(2 * n + 3 * m + 1),
            max_cycles=max_cycles,
            render_mode=render_mode,
        )
        self.predators = np.zeros((n, 2), dtype=np.int64)
        self.prey = np.zeros((m, 2), dtype=np.int64)
        self.free = np.ones(m, dtype=bool)

    # ------------------------------------------------------------------ episode
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._begin_episode(seed)
        self.predators, self.prey = self._place()
        self.free = np.ones(self.n_prey, dtype=bool)
        if self.render_mode == "human":
            self.render()
        return self._observations(), self._infos(success=False)

    def _place(self) -> tuple[np.ndarray, np.ndarray]:
        """Predator and prey starts: the fixed ones, the rest on distinct random floor cells."""
        n, m = len(self.possible_agents), self.n_prey
        fixed = [c for c in (self._fixed_predators, self._fixed_prey) if c is not None]
        used = set().union(*(_as_set(cells) for cells in fixed))
        available = np.array([c for c in self._floor.tolist() if tuple(c) not in used])
        needed = (n if self._fixed_predators is None else 0) + (
            m if self._fixed_prey is None else 0
        )
        drawn = available[self.np_random.choice(len(available), size=needed, replace=False)]
        predators = self._fixed_predators
        if predators is None:
            predators, drawn = drawn[:n], drawn[n:]
        prey = self._fixed_prey if self._fixed_prey is not None else drawn
        return predators.copy(), prey.copy()

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        self._check_actions(actions)
        n = len(self.possible_agents)
        joint = np.array([actions[agent] for agent in self.agents], dtype=np.int64)
        # Free prey take part as agents that stay, so no predator can step onto one.
        free_prey = self.prey[self.free]
        everyone = np.concatenate([self.predators, free_prey])
        stays = np.full(len(free_prey), STAY, dtype=np.int64)
        moved, _ = move_agents(everyone, np.concatenate([joint, stays]), self.walls)
        self.predators = moved[:n]
        caught = self._capturable() & self.free
        self.free &= ~caught
        self._move_prey()
        success = not self.free.any()
        reward = self.step_reward + self.capture_reward * int(caught.sum())
        observations, infos = self._observations(), self._infos(success)
        rewards = dict.fromkeys(self.agents, reward)
        terminations, truncations = self._end_cycle(terminated=success)
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _capturable(self) -> np.ndarray:
        """(M,) bool: enough predators on the cells next to each prey (see the class docs)."""
        gap = np.abs(self.prey[:, None, :] - self.predators[None, :, :]).sum(axis=-1)
        adjacent = (gap == 1).sum(axis=1)
        return adjacent >= self._needed[self.prey[:, 0], self.prey[:, 1]]

    def _move_prey(self) -> None:
        """Each free prey, in order, flees (``flee_prob``) or moves at random."""
        rng = self.np_random
        occupied = _as_set(self.predators) | _as_set(self.prey[self.free])
        for k in np.flatnonzero(self.free).tolist():
            targets = self._targets(self.prey[k : k + 1])[0]
            allowed = np.array([tuple(t) not in occupied for t in targets.tolist()])
            allowed[STAY] = True
            if rng.random() < self.flee_prob:
                choice = self._flee_choice(targets, allowed, rng)
            else:
                choice = int(rng.integers(len(GRID_MOVES)))
            if allowed[choice]:
                occupied.discard(tuple(self.prey[k].tolist()))
                self.prey[k] = targets[choice]
                occupied.add(tuple(self.prey[k].tolist()))

    def _targets(self, cells: np.ndarray) -> np.ndarray:
        """(K, 5, 2): where each action leads from each of ``cells`` (K, 2), walls and the
        map edge turning a move into a stay."""
        open_moves = np.ones((len(cells), len(GRID_MOVES)), dtype=bool)
        open_moves[:, :STAY] = ~self._blocked[cells[:, 0], cells[:, 1]]
        return cells[:, None, :] + GRID_MOVES[None, :, :] * open_moves[..., None]

    def _flee_choice(
        self, targets: np.ndarray, allowed: np.ndarray, rng: np.random.Generator
    ) -> int:
        """The allowed move farthest from the nearest predator, then from all of them."""
        options = np.flatnonzero(allowed)
        cells = targets[options, 0] * self.width + targets[options, 1]
        hunters = self.predators[:, 0] * self.width + self.predators[:, 1]
        dist = self._distances[hunters[:, None], cells[None, :]]  # (N, options)
        nearest, total = dist.min(axis=0), dist.sum(axis=0)
        best = np.flatnonzero(nearest == nearest.max())
        best = best[total[best] == total[best].max()]
        return int(options[best[rng.integers(len(best))] if len(best) > 1 else best[0]])

    # ------------------------------------------------------------------ observations
    def _observations(self) -> dict[str, np.ndarray]:
        n = len(self.possible_agents)
        pred = self.predators
        prey_offsets = (self.prey[None, :, :] - pred[:, None, :]) * self.free[None, :, None]
        order = (np.arange(n)[:, None] + 1 + np.arange(n - 1)[None, :]) % n  # next, wrapping
        other_offsets = pred[order] - pred[:, None, :]
        blocked = self._blocked[pred[:, 0], pred[:, 1]]
        rows = np.concatenate(
            [
                pred / self._scale,
                (prey_offsets / self._scale).reshape(n, -1),
                np.broadcast_to(self.free, (n, self.n_prey)),
                (other_offsets / self._scale).reshape(n, -1),
                blocked,
            ],
            axis=1,
            dtype=np.float32,
        )
        return {agent: rows[self.possible_agents.index(agent)] for agent in self.agents}

    def _infos(self, success: bool) -> dict[str, dict[str, Any]]:
        caught = int((~self.free).sum())
        return {agent: {"is_success": success, "prey_caught": caught} for agent in self.agents}

    def state(self) -> np.ndarray:
        return np.concatenate(
            [
                (self.predators / self._scale).ravel(),
                (self.prey * self.free[:, None] / self._scale).ravel(),
                self.free,
                [min(1.0, self.num_cycles / self.max_cycles)],
            ]
        ).astype(np.float32)

    # ------------------------------------------------------------------ baseline
    def chase_actions(self) -> dict[str, int]:
        """A greedy baseline: each live predator takes the move (lowest action on ties; moves
        into walls count as stays) that brings it closest, in steps round the walls, to the
        nearest free prey."""
        free = self.prey[self.free]
        prey_cells = free[:, 0] * self.width + free[:, 1]
        targets = self._targets(self.predators)  # (N, 5, 2)
        cells = targets[..., 0] * self.width + targets[..., 1]
        dist = self._distances[cells[..., None], prey_cells[None, None, :]].min(axis=-1)
        best = np.argmin(dist, axis=1)
        live = set(self.agents)
        return {
            agent: int(best[i]) for i, agent in enumerate(self.possible_agents) if agent in live
        }

    # ------------------------------------------------------------------ rendering
    def _frame(self) -> np.ndarray:
        frame = draw_agents_scene(self.walls, self.predators, self.tile_size)
        tile = self.tile_size
        for r, c in self.prey[self.free].tolist():
            block = frame[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]
            block[_prey_mask(tile)] = PREY_COLOR
        return frame


def check_floor_cells(
    walls: np.ndarray, name: str, cells: Sequence[tuple[int, int]] | None, count: int
) -> np.ndarray | None:
    """``cells`` as a (count, 2) int64 array after checking they are distinct floor cells
    of the map (None stays None); ValueError naming ``name`` and the bad entry otherwise."""
    if cells is None:
        return None
    array = np.asarray(cells)
    if array.shape != (count, 2) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be {count} (row, col) int pairs, got {cells!r}")
    height, width = walls.shape
    for i, (row, col) in enumerate(array.tolist()):
        if not (0 <= row < height and 0 <= col < width) or walls[row, col]:
            raise ValueError(
                f"{name}[{i}] = ({row}, {col}) is not a floor cell of the {height}x{width} map"
            )
    if len(_as_set(array)) < count:
        raise ValueError(f"{name} must be distinct cells, got {cells!r}")
    return array.astype(np.int64)


def _as_set(cells: np.ndarray) -> set[tuple[int, int]]:
    return {(r, c) for r, c in np.asarray(cells).reshape(-1, 2).tolist()}


@lru_cache(maxsize=16)  # one entry per tile size in use
def _prey_mask(tile_size: int) -> np.ndarray:
    mask = convex_polygon_mask(tile_size, _PREY_DIAMOND)
    mask.setflags(write=False)
    return mask


__all__ = ["PREDATOR_PREY_MAP", "PREY_COLOR", "PredatorPreyEnv", "check_floor_cells"]
