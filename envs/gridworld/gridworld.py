"""GridWorldEnv: every palaestra gridworld, configured by an ASCII map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.gridworld.cells import HAZARD_CELLS, MOVES, Action, Cell
from envs.gridworld.layout import GridLayout, parse_map
from envs.gridworld.maps import GRIDWORLD
from envs.gridworld.maze import generate_maze
from envs.rendering import FrameRenderer
from renders.gridworld import draw_grid, paint_agent

OBSERVATION_MODES = ("index", "coords", "grid", "rgb", "egocentric")

# Channels of the "grid" and "egocentric" observations (one-hot planes).
GRID_CHANNELS = (
    "wall",
    "goal",
    "hazard",
    "ice",
    "cliff",
    "key",
    "door_locked",
    "door_open",
    "agent",
    "carrying_key",
)
_CH = {name: i for i, name in enumerate(GRID_CHANNELS)}

# Keys and doors multiply the state count by 2 each; past this the tables get too big.
MAX_ITEMS = 10


class TransitionTable(NamedTuple):
    """The exact dynamics as dense arrays over (state, action, outcome).

    Unused outcome slots have probability 0. A batched env steps many states at once by
    indexing these arrays; the single env reads the same numbers.
    """

    next_state: np.ndarray  # (S, A, K) int64
    prob: np.ndarray  # (S, A, K) float64
    reward: np.ndarray  # (S, A, K) float64
    terminated: np.ndarray  # (S, A, K) bool
    success: np.ndarray  # (S, A, K) bool: the outcome enters a goal


class GridWorldEnv(gym.Env):
    """A tabular gridworld defined by an ASCII map.

    ## Description
    The agent moves between the cells of a map (see :mod:`envs.gridworld.cells` for the
    characters): walls block, the goal ends the episode with success, holes and lava end it
    with failure, ice makes moves slip sideways, cliffs send the agent back to start with a
    penalty, wind pushes it up, and keys open locked doors. The same class behind different
    maps gives GridWorld, TinyGrid, CliffWalking, FrozenLake8x8, WindyGrid, FourRooms,
    DoorKey and Maze. The exact transition model is exposed as ``P`` (Gymnasium's
    FrozenLake format) and :meth:`transition_arrays`, so the true optimum can be computed.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left (Gymnasium's CliffWalking order). Maps
    with keys or doors add 4 pickup (take the key on the agent's cell) and 5 toggle (open
    the locked doors next to the agent, when carrying a key): ``Discrete(6)``. Moving into a
    wall, a locked door or the map edge leaves the agent where it is. An action outside the
    space raises ValueError.

    ## Observation Space
    Chosen with ``observation_mode``:

    - ``"index"`` (default): ``Discrete(n_states)``, the state index
      ``flags * height * width + row * width + col`` (for tabular agents);
    - ``"coords"``: ``Box(int64, (2 + items,))``, row, column and one 0/1 flag per key
      (taken) and door (open);
    - ``"grid"``: ``Box(uint8 0/1, (10, height, width))`` one-hot planes
      (``GRID_CHANNELS``: wall, goal, hazard, ice, cliff, key, locked door, open door,
      agent, carrying key), channel first for CNNs;
    - ``"rgb"``: ``Box(uint8, (height * tile, width * tile, 3))`` pixels, ``tile=obs_tile_size``;
    - ``"egocentric"``: the ``grid`` planes in a ``view_size`` x ``view_size`` window centred
      on the agent, with outside-the-map cells marked as walls (partial observability).

    ## Rewards
    Entering the goal gives ``goal_reward``, a hole or lava ``hazard_reward``, a cliff
    ``cliff_reward`` (and teleports to start); every other step gives ``step_reward``.

    ## Starting State
    The ``S`` cell, with no key taken and every door locked.

    ## Episode End
    Terminated on entering a goal, hole or lava cell. Truncation comes from the registered
    ``max_episode_steps`` (``gymnasium.make`` adds the TimeLimit).

    ## Information
    ``info["prob"]``: probability of the sampled transition; ``info["is_success"]``: whether
    this step entered a goal.

    ## Arguments
    - ``map``: rows of map characters (list of strings or one newline-separated string);
      default the GridWorld-v0 map. Ignored when ``maze_size`` is given.
    - ``maze_size``, ``maze_seed``: generate a random perfect maze of this odd size (an int
      or ``(height, width)``) from this seed instead of using ``map``.
    - ``observation_mode``: one of ``OBSERVATION_MODES``.
    - ``step_reward``, ``goal_reward``, ``hazard_reward``, ``cliff_reward``: rewards.
    - ``slippery``: every non-wall cell behaves as ice.
    - ``ice_slip``: probability that a move from ice goes to one of the two perpendicular
      directions instead (half each); 2/3 gives FrozenLake's 1/3-1/3-1/3 rule.
    - ``wind``: upward push per column (length = map width), applied after each move from
      the column the agent left, cell by cell until a wall.
    - ``view_size``: odd window size of the ``egocentric`` observation.
    - ``obs_tile_size``: pixels per cell of the ``rgb`` observation.
    - ``render_mode``: ``None``, ``"rgb_array"`` or ``"human"`` (pygame window).
    - ``render_tile_size``: pixels per cell of rendered frames.

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 8}

    def __init__(
        self,
        map: Sequence[str] | str | None = None,
        *,
        maze_size: int | tuple[int, int] | None = None,
        maze_seed: int = 0,
        observation_mode: str = "index",
        step_reward: float = -0.01,
        goal_reward: float = 1.0,
        hazard_reward: float = 0.0,
        cliff_reward: float = -100.0,
        slippery: bool = False,
        ice_slip: float = 2.0 / 3.0,
        wind: Sequence[int] | None = None,
        view_size: int = 5,
        obs_tile_size: int = 8,
        render_mode: str | None = None,
        render_tile_size: int = 32,
    ) -> None:
        if observation_mode not in OBSERVATION_MODES:
            raise ValueError(
                f"unknown observation_mode {observation_mode!r}; valid modes: "
                + ", ".join(OBSERVATION_MODES)
            )
        if not 0.0 <= ice_slip <= 1.0:
            raise ValueError(f"ice_slip must be a probability in [0, 1], got {ice_slip}")
        if view_size < 1 or view_size % 2 == 0:
            raise ValueError(f"view_size must be a positive odd integer, got {view_size}")
        if obs_tile_size < 1 or render_tile_size < 1:
            raise ValueError("obs_tile_size and render_tile_size must be positive")

        if maze_size is not None:
            height, width = (maze_size, maze_size) if np.isscalar(maze_size) else maze_size
            map = generate_maze(height, width, maze_seed)
        self.layout: GridLayout = parse_map(GRIDWORLD if map is None else map)
        height, width = self.layout.height, self.layout.width
        self.wind = self._check_wind(wind, width)
        self.observation_mode = observation_mode
        self.render_mode = render_mode
        self.step_reward = float(step_reward)
        self.goal_reward = float(goal_reward)
        self.hazard_reward = float(hazard_reward)
        self.cliff_reward = float(cliff_reward)
        self.slippery = bool(slippery)
        self.ice_slip = float(ice_slip)
        self.view_size = int(view_size)
        self.obs_tile_size = int(obs_tile_size)
        self.render_tile_size = int(render_tile_size)

        items = len(self.layout.keys) + len(self.layout.doors)
        if items > MAX_ITEMS:
            raise ValueError(
                f"map has {items} keys and doors; at most {MAX_ITEMS} are supported because "
                "each one doubles the number of states"
            )
        self.n_items = items
        self.n_positions = height * width
        self.n_states = self.n_positions << items
        self.n_actions = 6 if self.layout.has_items else 4
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = self._make_observation_space()

        self._table = self._compile_table()
        # The same table as nested tuples: the single-env step reads Python objects, which
        # is several times faster than indexing numpy scalars.
        self._outcomes = self._table_as_tuples(self._table)
        self._backgrounds: dict[tuple[str, int, int], np.ndarray] = {}
        self._renderer = FrameRenderer(render_mode, self.metadata, "palaestra gridworld")
        self._P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] | None = None
        self.state = self.encode_state(*self.layout.start, 0)
        self.last_action: int | None = None

    # ------------------------------------------------------------------ state encoding
    def encode_state(self, row: int, col: int, flags: int = 0) -> int:
        """State index of the agent at (row, col) with the given key/door flags."""
        return flags * self.n_positions + row * self.layout.width + col

    def decode_state(self, state: int) -> tuple[int, int, int]:
        """(row, col, flags) of a state index."""
        flags, pos = divmod(int(state), self.n_positions)
        row, col = divmod(pos, self.layout.width)
        return row, col, flags

    def state_index_grid(self, flags: int = 0) -> np.ndarray:
        """(H, W) array of the state index of each cell for these flags; -1 on walls."""
        idx = np.arange(self.n_positions, dtype=np.int64).reshape(self.layout.height, -1)
        idx = idx + flags * self.n_positions
        idx[self.layout.cells == Cell.WALL] = -1
        return idx

    @property
    def agent_pos(self) -> tuple[int, int]:
        row, col, _ = self.decode_state(self.state)
        return row, col

    @property
    def flags(self) -> int:
        return self.decode_state(self.state)[2]

    def _key_bit(self, i: int) -> int:
        return 1 << i

    def _door_bit(self, j: int) -> int:
        return 1 << (len(self.layout.keys) + j)

    def _carrying_key(self, flags: int) -> bool:
        return bool(flags & ((1 << len(self.layout.keys)) - 1))

    def _item_masks(self, flags: int) -> tuple[np.ndarray, np.ndarray]:
        """Boolean (H, W) masks of taken keys and open doors under ``flags``."""
        taken = np.zeros(self.layout.cells.shape, dtype=bool)
        opened = np.zeros(self.layout.cells.shape, dtype=bool)
        for i, pos in enumerate(self.layout.keys):
            taken[pos] = bool(flags & self._key_bit(i))
        for j, pos in enumerate(self.layout.doors):
            opened[pos] = bool(flags & self._door_bit(j))
        return taken, opened

    # ------------------------------------------------------------------ dynamics
    @staticmethod
    def _check_wind(wind: Sequence[int] | None, width: int) -> tuple[int, ...]:
        if wind is None:
            return (0,) * width
        wind = tuple(int(w) for w in wind)
        if len(wind) != width:
            raise ValueError(f"wind has {len(wind)} entries, expected one per column ({width})")
        if any(w < 0 for w in wind):
            raise ValueError(f"wind strengths must be >= 0, got {wind}")
        return wind

    def _blocked(self, row: int, col: int, flags: int) -> bool:
        if not (0 <= row < self.layout.height and 0 <= col < self.layout.width):
            return True
        cell = self.layout.cells[row, col]
        if cell == Cell.WALL:
            return True
        if cell == Cell.DOOR:
            j = self.layout.doors.index((row, col))
            return not flags & self._door_bit(j)
        return False

    def _move(self, row: int, col: int, flags: int, move: int) -> tuple[int, int]:
        """Where a move from (row, col) lands, wind included."""
        dr, dc = MOVES[move]
        push = self.wind[col]  # the wind of the column the agent leaves
        if not self._blocked(row + dr, col + dc, flags):
            row, col = row + dr, col + dc
        for _ in range(push):
            if self._blocked(row - 1, col, flags):
                break
            row -= 1
        return row, col

    def _land(self, row: int, col: int, flags: int) -> tuple[int, float, bool, bool]:
        """(next_state, reward, terminated, success) for arriving at (row, col)."""
        cell = self.layout.cells[row, col]
        if cell == Cell.GOAL:
            return self.encode_state(row, col, flags), self.goal_reward, True, True
        if cell in HAZARD_CELLS:
            return self.encode_state(row, col, flags), self.hazard_reward, True, False
        if cell == Cell.CLIFF:
            return self.encode_state(*self.layout.start, flags), self.cliff_reward, False, False
        return self.encode_state(row, col, flags), self.step_reward, False, False

    def _outcomes_of(self, state: int, action: int) -> list[tuple[float, int, float, bool, bool]]:
        """Every (prob, next_state, reward, terminated, success) of one state-action pair."""
        row, col, flags = self.decode_state(state)
        cell = self.layout.cells[row, col]
        if cell == Cell.WALL or cell in HAZARD_CELLS or cell == Cell.GOAL:
            # Unreachable or absorbing: the episode is over (or never gets here).
            return [(1.0, state, 0.0, cell != Cell.WALL, False)]
        if action == Action.PICKUP:
            if (row, col) in self.layout.keys:
                flags |= self._key_bit(self.layout.keys.index((row, col)))
            return [(1.0, self.encode_state(row, col, flags), self.step_reward, False, False)]
        if action == Action.TOGGLE:
            if self._carrying_key(flags):
                for j, (dr, dc) in enumerate(self.layout.doors):
                    if abs(dr - row) + abs(dc - col) == 1:
                        flags |= self._door_bit(j)
            return [(1.0, self.encode_state(row, col, flags), self.step_reward, False, False)]
        on_ice = self.slippery or cell == Cell.ICE
        if on_ice and self.ice_slip > 0:
            side = self.ice_slip / 2
            moves = [
                (action, 1 - self.ice_slip),
                ((action - 1) % 4, side),
                ((action + 1) % 4, side),
            ]
        else:
            moves = [(action, 1.0)]
        merged: dict[int, list] = {}
        for move, p in moves:
            if p <= 0:
                continue
            nxt, reward, terminated, success = self._land(*self._move(row, col, flags, move), flags)
            if nxt in merged:
                merged[nxt][0] += p
            else:
                merged[nxt] = [p, nxt, reward, terminated, success]
        return [tuple(o) for o in merged.values()]

    def _compile_table(self) -> TransitionTable:
        per_pair = [
            [self._outcomes_of(s, a) for a in range(self.n_actions)] for s in range(self.n_states)
        ]
        k = max(len(o) for row in per_pair for o in row)
        shape = (self.n_states, self.n_actions, k)
        next_state = np.zeros(shape, dtype=np.int64)
        prob = np.zeros(shape, dtype=np.float64)
        reward = np.zeros(shape, dtype=np.float64)
        terminated = np.zeros(shape, dtype=bool)
        success = np.zeros(shape, dtype=bool)
        for s, row in enumerate(per_pair):
            for a, outcomes in enumerate(row):
                for i, (p, nxt, r, term, succ) in enumerate(outcomes):
                    next_state[s, a, i] = nxt
                    prob[s, a, i] = p
                    reward[s, a, i] = r
                    terminated[s, a, i] = term
                    success[s, a, i] = succ
                next_state[s, a, len(outcomes) :] = next_state[s, a, 0]
        return TransitionTable(next_state, prob, reward, terminated, success)

    @staticmethod
    def _table_as_tuples(table: TransitionTable) -> list[list[tuple]]:
        """Per (state, action): tuples of (cumulative_prob, prob, next, reward, term, success)."""
        cum = np.cumsum(table.prob, axis=-1)
        out = []
        for s in range(table.prob.shape[0]):
            per_action = []
            for a in range(table.prob.shape[1]):
                live = np.flatnonzero(table.prob[s, a] > 0)
                per_action.append(
                    tuple(
                        (
                            float(cum[s, a, i]),
                            float(table.prob[s, a, i]),
                            int(table.next_state[s, a, i]),
                            float(table.reward[s, a, i]),
                            bool(table.terminated[s, a, i]),
                            bool(table.success[s, a, i]),
                        )
                        for i in live
                    )
                )
            out.append(per_action)
        return out

    def transition_arrays(self) -> TransitionTable:
        """The exact model as dense (state, action, outcome) arrays (copies)."""
        return TransitionTable(*(a.copy() for a in self._table))

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """Gymnasium FrozenLake-format model: ``P[s][a] = [(prob, next, reward, done), ...]``."""
        if self._P is None:
            t = self._table
            self._P = {
                s: {
                    a: [
                        (
                            float(t.prob[s, a, i]),
                            int(t.next_state[s, a, i]),
                            float(t.reward[s, a, i]),
                            bool(t.terminated[s, a, i]),
                        )
                        for i in np.flatnonzero(t.prob[s, a] > 0)
                    ]
                    for a in range(self.n_actions)
                }
                for s in range(self.n_states)
            }
        return self._P

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; GridWorldEnv takes none")
        self.state = self.encode_state(*self.layout.start, 0)
        self.last_action = None
        if self.render_mode == "human":
            self.render()
        return self._observation(), {"prob": 1.0, "is_success": False}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        try:
            a = action.__index__()
        except (AttributeError, TypeError):
            a = -1
        if not 0 <= a < self.n_actions or isinstance(action, bool):
            raise ValueError(
                f"action {action!r} is outside the action space Discrete({self.n_actions}); "
                "valid actions: "
                + ", ".join(f"{i} {Action(i).name.lower()}" for i in range(self.n_actions))
            )
        outcomes = self._outcomes[self.state][a]
        if len(outcomes) == 1:
            _, prob, nxt, reward, terminated, success = outcomes[0]
        else:
            u = self.np_random.random()
            for cum, prob, nxt, reward, terminated, success in outcomes:  # noqa: B007
                if u < cum:
                    break  # past the last cumulative sum (rounding): keep the last outcome
        self.state = nxt
        self.last_action = a
        if self.render_mode == "human":
            self.render()
        return (
            self._observation(),
            reward,
            terminated,
            False,
            {
                "prob": prob,
                "is_success": success,
            },
        )

    # ------------------------------------------------------------------ observations
    def _make_observation_space(self) -> spaces.Space:
        h, w = self.layout.height, self.layout.width
        mode = self.observation_mode
        if mode == "index":
            return spaces.Discrete(self.n_states)
        if mode == "coords":
            high = np.array([h - 1, w - 1] + [1] * self.n_items, dtype=np.int64)
            return spaces.Box(0, high, dtype=np.int64)
        if mode == "grid":
            return spaces.Box(0, 1, (len(GRID_CHANNELS), h, w), dtype=np.uint8)
        if mode == "egocentric":
            v = self.view_size
            return spaces.Box(0, 1, (len(GRID_CHANNELS), v, v), dtype=np.uint8)
        t = self.obs_tile_size
        return spaces.Box(0, 255, (h * t, w * t, 3), dtype=np.uint8)

    def _observation(self) -> Any:
        mode = self.observation_mode
        if mode == "index":
            return self.state
        row, col, flags = self.decode_state(self.state)
        if mode == "coords":
            bits = [(flags >> i) & 1 for i in range(self.n_items)]
            return np.array([row, col, *bits], dtype=np.int64)
        if mode == "rgb":
            return self.frame(self.obs_tile_size)
        planes = self._static_planes(flags)
        if mode == "grid":
            obs = planes.copy()
            obs[_CH["agent"], row, col] = 1
            return obs
        # egocentric: the static planes are stored padded by the view radius with walls.
        v = self.view_size
        obs = planes[:, row : row + v, col : col + v].copy()
        obs[_CH["agent"], v // 2, v // 2] = 1
        return obs

    def _static_planes(self, flags: int) -> np.ndarray:
        """Everything but the agent, per flags (cached); padded with walls if egocentric."""
        key = ("planes", flags, 0)
        planes = self._backgrounds.get(key)
        if planes is None:
            cells = self.layout.cells
            taken, opened = self._item_masks(flags)
            planes = np.zeros((len(GRID_CHANNELS), *cells.shape), dtype=np.uint8)
            planes[_CH["wall"]] = cells == Cell.WALL
            planes[_CH["goal"]] = cells == Cell.GOAL
            planes[_CH["hazard"]] = (cells == Cell.HOLE) | (cells == Cell.LAVA)
            planes[_CH["ice"]] = (cells == Cell.ICE) | (self.slippery & (cells != Cell.WALL))
            planes[_CH["cliff"]] = cells == Cell.CLIFF
            planes[_CH["key"]] = (cells == Cell.KEY) & ~taken
            planes[_CH["door_locked"]] = (cells == Cell.DOOR) & ~opened
            planes[_CH["door_open"]] = opened
            planes[_CH["carrying_key"]] = self._carrying_key(flags)
            if self.observation_mode == "egocentric":
                r = self.view_size // 2
                planes = np.pad(planes, ((0, 0), (r, r), (r, r)))
                if r:
                    wall = planes[_CH["wall"]]
                    wall[:r] = wall[-r:] = wall[:, :r] = wall[:, -r:] = 1
            self._backgrounds[key] = planes
        return planes

    # ------------------------------------------------------------------ rendering
    def frame(self, tile_size: int | None = None) -> np.ndarray:
        """The current picture as an (H * tile, W * tile, 3) uint8 array."""
        tile = self.render_tile_size if tile_size is None else int(tile_size)
        row, col, flags = self.decode_state(self.state)
        key = ("rgb", flags, tile)
        background = self._backgrounds.get(key)
        if background is None:
            taken, opened = self._item_masks(flags)
            background = draw_grid(self.layout.cells, tile, open_doors=opened, taken_keys=taken)
            self._backgrounds[key] = background
        frame = background.copy()
        paint_agent(frame, row, col, tile, carrying_key=self._carrying_key(flags))
        return frame

    def render(self) -> np.ndarray | None:
        return self._renderer.render(self.frame)

    def close(self) -> None:
        self._renderer.close()
