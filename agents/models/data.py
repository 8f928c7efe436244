"""Observations to train perception models on: gridworld frames with the true cells behind
them (every reachable state rendered, or random play), and random-play observations of any
env (for k-means on CartPole and the like).

A gridworld exposes its state, so labels come from the env itself: the agent is placed in
each reachable state in turn and the frame is drawn, which gives exhaustive labelled data
for a few milliseconds of work. Random play gives the frame distribution an agent would
actually see (the autoencoder's training data and its anomaly baseline).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from envs.gridworld.cells import Cell
from envs.gridworld.gridworld import GridWorldEnv
from envs.gridworld.layout import parse_map

# Draws random_map makes before giving up on a goal the start can reach.
_MAP_TRIES = 1000

NO_CELL = -1
"""Row and column of a label that does not exist (a map without exactly one goal)."""


@dataclass(frozen=True)
class LabelledFrames:
    """Gridworld frames and, row for row, the true state behind each one."""

    frames: np.ndarray
    """(N, H * tile, W * tile, 3) uint8 pictures, as the env's ``rgb`` observation."""
    agent: np.ndarray
    """(N, 2) int64 (row, col) of the agent's cell."""
    goal: np.ndarray
    """(N, 2) int64 (row, col) of the goal's cell; ``NO_CELL`` in both where the map has no
    goal or more than one."""
    states: np.ndarray
    """(N,) int64 state index in the env that drew the frame (position and item flags)."""
    map_ids: np.ndarray
    """(N,) int64 position, in the list of envs given, of the env that drew the frame."""

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.frames.ndim != 4 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be (N, H, W, C) uint8, got {self.frames.shape} {self.frames.dtype}"
            )
        for name, shape in (("agent", (n, 2)), ("goal", (n, 2)), ("states", (n,))):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"LabelledFrames.{name} has shape {getattr(self, name).shape}, expected "
                    f"{shape} for {n} frames"
                )
        if self.map_ids.shape != (n,):
            raise ValueError(f"LabelledFrames.map_ids has shape {self.map_ids.shape}, not ({n},)")

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, index: np.ndarray) -> LabelledFrames:
        """The rows selected by ``index`` (a boolean mask or integer indices)."""
        return LabelledFrames(
            self.frames[index],
            self.agent[index],
            self.goal[index],
            self.states[index],
            self.map_ids[index],
        )

    @classmethod
    def concat(cls, parts: Sequence[LabelledFrames]) -> LabelledFrames:
        """One dataset from several with frames of one size; ``map_ids`` are renumbered so
        each part's maps keep distinct ids."""
        if not parts:
            raise ValueError("nothing to concatenate: no LabelledFrames given")
        shapes = sorted({p.frames.shape[1:] for p in parts})
        if len(shapes) > 1:
            raise ValueError(
                f"cannot concatenate frames of different sizes {shapes}; keep one "
                "LabelledFrames per map size"
            )
        offsets = np.cumsum([0] + [int(p.map_ids.max(initial=-1)) + 1 for p in parts])
        return cls(
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.agent for p in parts]),
            np.concatenate([p.goal for p in parts]),
            np.concatenate([p.states for p in parts]),
            np.concatenate([p.map_ids + off for p, off in zip(parts, offsets[:-1], strict=True)]),
        )


def gridworld(env: gym.Env) -> GridWorldEnv:
    """The :class:`GridWorldEnv` under ``env``'s wrappers; ValueError if there is none."""
    inner = env.unwrapped
    if not isinstance(inner, GridWorldEnv):
        raise ValueError(
            f"expected a palaestra gridworld (GridWorldEnv), got {type(inner).__name__}"
        )
    return inner


def goal_cell(env: GridWorldEnv) -> tuple[int, int]:
    """(row, col) of the map's goal; ``(NO_CELL, NO_CELL)`` unless there is exactly one."""
    goals = np.argwhere(env.layout.cells == Cell.GOAL)
    if len(goals) != 1:
        return NO_CELL, NO_CELL
    return int(goals[0][0]), int(goals[0][1])


def reachable_states(env: gym.Env) -> np.ndarray:
    """Sorted indices of the states some action sequence reaches from the start, the start
    and terminal states (goal, holes) included, computed from the env's exact model."""
    grid = gridworld(env)
    table = grid.transition_arrays()
    start = grid.encode_state(*grid.layout.start, 0)
    seen = np.zeros(grid.n_states, dtype=bool)
    seen[start] = True
    frontier = np.array([start])
    while frontier.size:
        reached = table.next_state[frontier][table.prob[frontier] > 0]
        frontier = np.unique(reached[~seen[reached]])
        seen[frontier] = True
    return np.flatnonzero(seen)


def placeable_states(env: gym.Env) -> np.ndarray:
    """Sorted indices of every state whose cell is not a wall, under every item-flags value:
    all the pictures the env can draw, including some play never shows (cells cut off
    behind the goal, a door open while its key lies on the floor)."""
    grid = gridworld(env)
    floor = np.flatnonzero(grid.layout.cells.ravel() != Cell.WALL)
    flags = np.arange(grid.n_states // grid.n_positions)
    return (flags[:, None] * grid.n_positions + floor[None, :]).ravel()


def enumerate_frames(
    envs: gym.Env | Sequence[gym.Env],
    tile_size: int | None = None,
    reachable_only: bool = True,
) -> LabelledFrames:
    """Every reachable state of each env (``reachable_only``; else every non-wall state,
    see :func:`placeable_states`), drawn with the agent in it.

    ``tile_size`` defaults to each env's ``obs_tile_size`` (the ``rgb`` observation's
    pixels). The envs are left in the state they were in.
    """
    envs = [envs] if isinstance(envs, gym.Env) else list(envs)
    parts = []
    for map_id, env in enumerate(envs):
        grid = gridworld(env)
        tile = grid.obs_tile_size if tile_size is None else int(tile_size)
        states = reachable_states(grid) if reachable_only else placeable_states(grid)
        saved = grid.state
        try:
            frames = []
            for s in states:
                grid.state = int(s)
                frames.append(grid.frame(tile))
        finally:
            grid.state = saved
        parts.append(_labelled(grid, np.stack(frames), states, map_id))
    return LabelledFrames.concat(parts) if len(parts) > 1 else parts[0]


def random_map(
    height: int,
    width: int,
    seed: int = 0,
    fractions: dict[str, float] | None = None,
) -> list[str]:
    """A walled ``height`` x ``width`` room (map rows) with one start and one goal on random
    inner cells and other cells scattered at random: ``fractions`` maps a map character
    (see :mod:`envs.gridworld.cells`) to the share of inner cells that get it; the default
    scatters walls, holes, lava, ice and cliff cells, so a model trained on such maps has
    seen the agent on every kind of tile. Keys and doors are not scattered (each one
    doubles the env's state count). The same seed gives the same map."""
    if fractions is None:
        fractions = {"#": 0.15, "H": 0.05, "L": 0.05, "I": 0.1, "C": 0.05}
    if height < 3 or width < 3 or height * width < 11:
        raise ValueError(
            f"random_map needs room for start and goal inside walls, got {height}x{width}"
        )
    bad = sorted(set(fractions) - set("#HLIC."))
    if bad:
        raise ValueError(f"random_map scatters only '#', 'H', 'L', 'I', 'C' and '.', got {bad}")
    total = sum(fractions.values())
    if any(f < 0 for f in fractions.values()) or total > 1:
        raise ValueError(f"fractions must be >= 0 and sum to at most 1, got {fractions}")
    rng = np.random.default_rng(seed)
    inner = (height - 2) * (width - 2)
    chars = ["S", "G"]
    for char, share in fractions.items():
        chars += [char] * int(share * (inner - 2))
    chars += ["."] * (inner - len(chars))
    grid = np.full((height, width), "#", dtype="<U1")
    for _ in range(_MAP_TRIES):
        grid[1:-1, 1:-1] = rng.permutation(np.array(chars)).reshape(height - 2, width - 2)
        rows = ["".join(row) for row in grid]
        try:
            parse_map(rows)  # the env refuses maps whose goal cannot be reached
        except ValueError:
            continue
        return rows
    raise ValueError(
        f"no {height}x{width} map with a reachable goal in {_MAP_TRIES} draws from seed {seed}; "
        "lower the fractions of walls, holes, lava and cliffs"
    )


def random_play_frames(
    env: gym.Env, steps: int, seed: int = 0, tile_size: int | None = None
) -> LabelledFrames:
    """``steps`` frames seen by a uniformly random policy (see :func:`random_play`), each
    drawn at ``tile_size`` pixels per cell (default the env's ``obs_tile_size``), labelled
    with the state it shows. Works whatever the env's ``observation_mode``."""
    grid = gridworld(env)
    tile = grid.obs_tile_size if tile_size is None else int(tile_size)
    frames, states = [], []
    for _ in random_play(env, steps, seed):
        frames.append(grid.frame(tile))
        states.append(grid.state)
    return _labelled(grid, np.stack(frames), np.asarray(states, dtype=np.int64), 0)


def random_observations(env: gym.Env, steps: int, seed: int = 0) -> np.ndarray:
    """(steps, *obs_shape) observations of a uniformly random policy in any env (see
    :func:`random_play`), e.g. CartPole states for k-means."""
    return np.stack([np.asarray(obs) for obs in random_play(env, steps, seed)])


def random_play(env: gym.Env, steps: int, seed: int = 0) -> Iterator[Any]:
    """Yield ``steps`` observations of uniformly random actions: the first reset's, then the
    one after each step; an episode's last observation is yielded and followed by the next
    reset's. The env and the action sampler are seeded with ``seed``.

    Each observation is yielded before the next action is taken, so the env shows it while
    the caller looks (:func:`random_play_frames` draws the env's frame then)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    yield obs
    count = 1
    while count < steps:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        yield obs
        count += 1
        if (terminated or truncated) and count < steps:
            obs, _ = env.reset()
            yield obs
            count += 1


def random_steps(env: gym.Env, seed: int = 0) -> Iterator[RandomStep]:
    """Endless steps of uniformly random actions, the env and the action sampler seeded
    with ``seed``. After an episode ends, ``next_obs`` is its last observation and the env
    is reset when the next step is asked for (so the env still shows the last state while
    the caller looks at it)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    while True:
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, info = env.step(action)
        yield RandomStep(
            obs, action, float(reward), next_obs, bool(terminated), bool(truncated), info
        )
        obs = env.reset()[0] if terminated or truncated else next_obs


class RandomStep(NamedTuple):
    """One step of :func:`random_steps`."""

    obs: Any
    action: Any
    reward: float
    next_obs: Any
    terminated: bool
    truncated: bool
    info: dict[str, Any]


@dataclass(frozen=True)
class Transitions:
    """Environment steps, one row each; rows of one episode follow each other in order
    (except where noted, e.g. rows read out of a replay ring)."""

    obs: np.ndarray
    """(N, *obs_shape) observation each step started from."""
    actions: np.ndarray
    """(N,) int64 action taken (a Discrete action's index, ``start`` subtracted)."""
    rewards: np.ndarray
    """(N,) float32 reward received."""
    next_obs: np.ndarray
    """(N, *obs_shape) observation the step led to: an episode's last one where it ended
    (never the next episode's first)."""
    terminated: np.ndarray
    """(N,) bool: the step ended the episode (no value beyond it)."""
    truncated: np.ndarray
    """(N,) bool: a time limit cut the episode off after this step."""

    def __post_init__(self) -> None:
        n = len(self.actions)
        shapes = {
            "actions": (self.actions.shape, (n,)),
            "rewards": (self.rewards.shape, (n,)),
            "terminated": (self.terminated.shape, (n,)),
            "truncated": (self.truncated.shape, (n,)),
            "next_obs": (self.next_obs.shape, self.obs.shape),
        }
        if len(self.obs) != n:
            raise ValueError(f"Transitions.obs has {len(self.obs)} rows but actions has {n}")
        for name, (shape, expected) in shapes.items():
            if shape != expected:
                raise ValueError(f"Transitions.{name} has shape {shape}, expected {expected}")

    @classmethod
    def of(
        cls,
        obs: Any,
        actions: Any,
        rewards: Any,
        next_obs: Any,
        terminated: Any,
        truncated: Any = None,
    ) -> Transitions:
        """Transitions from array-likes, cast to the field dtypes (``truncated`` defaults
        to all False)."""
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        return cls(
            np.asarray(obs),
            actions,
            np.asarray(rewards, dtype=np.float32).reshape(-1),
            np.asarray(next_obs),
            np.asarray(terminated, dtype=bool).reshape(-1),
            np.zeros(len(actions), bool) if truncated is None else np.asarray(truncated, bool),
        )

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def done(self) -> np.ndarray:
        """(N,) bool: the episode ended (terminated or truncated) after this step."""
        return self.terminated | self.truncated

    def subset(self, index: np.ndarray) -> Transitions:
        """The rows selected by ``index`` (a boolean mask or integer indices)."""
        return Transitions(
            self.obs[index],
            self.actions[index],
            self.rewards[index],
            self.next_obs[index],
            self.terminated[index],
            self.truncated[index],
        )

    @classmethod
    def concat(cls, parts: Sequence[Transitions]) -> Transitions:
        """The rows of ``parts`` one after another. A part should end where an episode
        ended or was cut off (``truncated``), or its last episode runs on into the next
        part's first."""
        if not parts:
            raise ValueError("nothing to concatenate: no Transitions given")
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def episode_starts(self) -> np.ndarray:
        """Rows that begin an episode: row 0 and every row after an episode's end."""
        return np.flatnonzero(np.concatenate([[True], self.done[:-1]]))

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of every episode that ends within the rows (a last,
        unfinished episode is left out)."""
        ends = np.flatnonzero(self.done)
        sums = np.cumsum(self.rewards, dtype=np.float64)
        totals = sums[ends]
        return np.diff(np.concatenate([[0.0], totals])) if len(ends) else totals

    def windows(self, length: int) -> np.ndarray:
        """Rows ``i`` whose ``length`` steps ``i .. i + length - 1`` all belong to one
        episode (only the last of them may end it): starts of real trajectories that
        long."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        n = len(self) - length + 1
        if n < 1:
            return np.zeros(0, dtype=np.int64)
        ended = np.concatenate([[0], np.cumsum(self.done[:-1], dtype=np.int64)])
        # Episode ends among rows i .. i + length - 2 (the window's last row may end it).
        inside = ended[length - 1 : length - 1 + n] - ended[:n]
        return np.flatnonzero(inside == 0)


def random_transitions(env: gym.Env, steps: int, seed: int = 0) -> Transitions:
    """``steps`` steps of uniformly random actions from the first (seeded) reset on (see
    :func:`random_steps`): training data for dynamics models."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"random_transitions needs a Discrete action space, got {env.action_space}"
        )
    rows = list(itertools.islice(random_steps(env, seed), steps))
    obs, actions, rewards, next_obs, terminated, truncated, _ = zip(*rows, strict=True)
    return Transitions.of(
        np.stack([np.asarray(o) for o in obs]),
        np.asarray(actions) - int(env.action_space.start),
        rewards,
        np.stack([np.asarray(o) for o in next_obs]),
        terminated,
        np.asarray(truncated, dtype=bool),
    )


def random_episode_returns(env: gym.Env, episodes: int, seed: int = 0) -> np.ndarray:
    """Returns of ``episodes`` whole episodes of uniformly random actions (the baseline a
    learned policy is compared with). The env must end its episodes (a time limit)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    returns, total = [], 0.0
    for step in random_steps(env, seed):
        total += step.reward
        if step.terminated or step.truncated:
            returns.append(total)
            total = 0.0
            if len(returns) == episodes:
                return np.asarray(returns)
    raise AssertionError("unreachable: random_steps never ends")


def _labelled(
    grid: GridWorldEnv, frames: np.ndarray, states: np.ndarray, map_id: int
) -> LabelledFrames:
    n = len(states)
    cells = [grid.decode_state(s)[:2] for s in states]
    return LabelledFrames(
        frames=frames,
        agent=np.array(cells, dtype=np.int64).reshape(n, 2),
        goal=np.tile(np.array(goal_cell(grid), dtype=np.int64), (n, 1)),
        states=np.asarray(states, dtype=np.int64),
        map_ids=np.full(n, map_id, dtype=np.int64),
    )
