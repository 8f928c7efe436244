"""GridWorld family: API compliance, dynamics, exact model, determinism, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.gridworld.cells import Action, Cell
from envs.gridworld.gridworld import GRID_CHANNELS, OBSERVATION_MODES, GridWorldEnv
from envs.gridworld.layout import parse_map, reachable
from envs.gridworld.maze import generate_maze

ALL_IDS = list(envs.GRIDWORLD_IDS)
UP, RIGHT, DOWN, LEFT = Action.UP, Action.RIGHT, Action.DOWN, Action.LEFT


def make(env_id: str = "palaestra/GridWorld-v0", **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


def rollout(env: gym.Env, actions: list[int], seed: int = 0) -> list[tuple]:
    """(obs, reward, terminated, truncated, info) of every step, resetting on episode end."""
    obs, info = env.reset(seed=seed)
    out = [(np.asarray(obs).copy(), 0.0, False, False, info)]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append((np.asarray(obs).copy(), r, term, trunc, info))
        if term or trunc:
            obs, info = env.reset()
            out.append((np.asarray(obs).copy(), 0.0, False, False, info))
    return out


def value_iteration(env: GridWorldEnv, gamma: float = 0.99) -> np.ndarray:
    t = env.transition_arrays()
    v = np.zeros(env.n_states)
    for _ in range(10_000):
        q = (t.prob * (t.reward + gamma * v[t.next_state] * ~t.terminated)).sum(-1)
        if np.abs(q.max(1) - v).max() < 1e-12:
            break
        v = q.max(1)
    return q


def greedy_return(env: gym.Env, q: np.ndarray, seed: int = 0) -> float:
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, _ = env.step(int(q[obs].argmax()))
        total += r
        done = term or trunc
    return total


# ---------------------------------------------------------------- API compliance
@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("mode", OBSERVATION_MODES)
def test_check_env_passes_for_every_id_and_mode(env_id: str, mode: str) -> None:
    env = make(env_id, observation_mode=mode, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("mode", ["index", "coords", "grid", "egocentric"])
def test_sb3_check_env_passes(env_id: str, mode: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = make(env_id, observation_mode=mode)
    sb3_env_checker.check_env(env.unwrapped, warn=False)


@pytest.mark.parametrize("env_id", ALL_IDS)
@pytest.mark.parametrize("mode", ["index", "grid"])
def test_same_seed_same_rollout_over_1000_steps(env_id: str, mode: str) -> None:
    actions = np.random.default_rng(1).integers(0, 6, 1000)
    a = make(env_id, observation_mode=mode)
    actions = (actions % a.action_space.n).tolist()
    b = make(env_id, observation_mode=mode)
    ra, rb = rollout(a, actions, seed=7), rollout(b, actions, seed=7)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:] == y[1:]


def test_different_seeds_differ_on_slippery_ice() -> None:
    actions = [RIGHT] * 300
    a = rollout(make("palaestra/FrozenLake8x8-v0"), actions, seed=1)
    b = rollout(make("palaestra/FrozenLake8x8-v0"), actions, seed=2)
    assert [int(x[0]) for x in a] != [int(x[0]) for x in b]


def test_registered_ids_and_time_limits() -> None:
    for env_id in ALL_IDS:
        assert gym.spec(env_id).max_episode_steps is not None
    env = make("palaestra/TinyGrid-v0")
    env.reset(seed=0)
    for _ in range(49):
        *_, term, trunc, _ = env.step(UP)  # bump into the top wall forever
        assert not term and not trunc
    *_, term, trunc, _ = env.step(UP)
    assert trunc and not term


# ---------------------------------------------------------------- dynamics
def test_tinygrid_shortest_path_and_rewards() -> None:
    env = make("palaestra/TinyGrid-v0")
    obs, info = env.reset(seed=0)
    assert obs == 0 and info == {"prob": 1.0, "is_success": False}
    steps = [env.step(a) for a in (RIGHT, RIGHT, DOWN, DOWN)]
    assert [s[0] for s in steps] == [1, 2, 5, 8]
    assert [s[1] for s in steps] == [-0.01, -0.01, -0.01, 1.0]
    assert steps[-1][2] is True and steps[-1][4]["is_success"] is True


def test_walls_and_edges_block() -> None:
    env = make("palaestra/GridWorld-v0", map=["S#", ".G"])
    env.reset(seed=0)
    for a in (UP, LEFT, RIGHT):
        obs, *_ = env.step(a)
        assert obs == 0
    assert env.step(DOWN)[0] == 2


def test_cliff_sends_back_to_start_with_penalty() -> None:
    env = make("palaestra/CliffWalking-v0")
    env.reset(seed=0)
    obs, r, term, _, _ = env.step(RIGHT)
    assert (obs, r, term) == (36, -100.0, False)
    q = value_iteration(env.unwrapped)
    assert greedy_return(env, q) == -13.0


def test_windy_grid_optimum_is_15_steps() -> None:
    env = make("palaestra/WindyGrid-v0")
    assert greedy_return(env, value_iteration(env.unwrapped)) == -15.0


def test_wind_pushes_up_from_the_column_left() -> None:
    env = make("palaestra/GridWorld-v0", map=["...", "...", "S.G"], wind=[0, 2, 0])
    env.reset(seed=0)
    _obs, *_ = env.step(RIGHT)  # leaves column 0 (no wind) into column 1
    assert env.unwrapped.agent_pos == (2, 1)
    env.step(RIGHT)  # leaves column 1: pushed up two rows after moving to column 2
    assert env.unwrapped.agent_pos == (0, 2)


def test_hole_and_lava_end_the_episode_without_success() -> None:
    for char in "HL":
        env = make("palaestra/GridWorld-v0", map=[f"S{char}", ".G"], hazard_reward=-1.0)
        env.reset(seed=0)
        _, r, term, _, info = env.step(RIGHT)
        assert (r, term, info["is_success"]) == (-1.0, True, False)


def test_ice_slips_with_frozenlake_probabilities() -> None:
    env = make("palaestra/GridWorld-v0", map=["...", "SI.", "..G"])
    u = env.unwrapped
    ice = u.encode_state(1, 1)
    outcomes = {u.decode_state(n)[:2]: p for p, n, _, _ in u.P[ice][RIGHT]}
    assert outcomes == pytest.approx({(1, 2): 1 / 3, (0, 1): 1 / 3, (2, 1): 1 / 3})
    # Sampled frequencies follow the model.
    counts: dict[tuple[int, int], int] = {}
    env.reset(seed=3)
    for _ in range(3000):
        u.state = ice
        env.step(RIGHT)
        counts[u.agent_pos] = counts.get(u.agent_pos, 0) + 1
    for pos, p in outcomes.items():
        assert counts[pos] / 3000 == pytest.approx(p, abs=0.04)


def test_door_key_needs_pickup_then_toggle() -> None:
    env = make("palaestra/GridWorld-v0", map=["SKDG"])
    assert env.action_space.n == 6
    env.reset(seed=0)
    env.step(RIGHT)
    assert env.unwrapped.agent_pos == (0, 1)
    env.step(RIGHT)  # locked door blocks
    assert env.unwrapped.agent_pos == (0, 1)
    env.step(Action.TOGGLE)  # no key yet: nothing happens
    env.step(RIGHT)
    assert env.unwrapped.agent_pos == (0, 1)
    env.step(Action.PICKUP)
    env.step(Action.TOGGLE)
    env.step(RIGHT)
    assert env.unwrapped.agent_pos == (0, 2)
    _, r, term, _, info = env.step(RIGHT)
    assert term and info["is_success"] and r == 1.0


def test_doorkey_optimum_uses_key_and_door() -> None:
    env = make("palaestra/DoorKey-v0")
    ret = greedy_return(env, value_iteration(env.unwrapped))
    # 2 moves down to the key, pickup, 2 right to the door's neighbour, toggle, 4 moves
    # through the door to the goal: 10 steps, the last one entering the goal.
    assert ret == pytest.approx(1.0 - 0.01 * 9)


# ---------------------------------------------------------------- exact model
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_model_matches_step_for_every_state_and_action(env_id: str) -> None:
    env = make(env_id)
    u = env.unwrapped
    t = u.transition_arrays()
    np.testing.assert_allclose(t.prob.sum(-1), 1.0)
    env.reset(seed=0)
    reachable_states = {u.state}
    frontier = [u.state]
    while frontier:  # every state reachable from start, every action
        s = frontier.pop()
        for a in range(u.n_actions):
            for p, nxt, r, term in u.P[s][a]:
                assert p > 0
                u.state = s
                obs, r2, term2, _trunc2, _info = u.step(a)
                if len(u.P[s][a]) == 1:
                    assert (obs, r2, term2) == (nxt, r, term)
                if not term and nxt not in reachable_states:
                    reachable_states.add(nxt)
                    frontier.append(nxt)
    assert len(reachable_states) > 1


def test_p_is_in_frozenlake_format_and_matches_gymnasium_frozenlake() -> None:
    ours = make("palaestra/FrozenLake8x8-v0").unwrapped
    theirs = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True).unwrapped
    # Gymnasium's actions are left, down, right, up; ours up, right, down, left.
    to_theirs = {UP: 3, RIGHT: 2, DOWN: 1, LEFT: 0}
    for s in range(64):
        for a, b in to_theirs.items():
            mine: dict[int, float] = {}
            for p, n, _, _ in ours.P[s][a]:
                mine[n] = mine.get(n, 0) + p
            gym_p: dict[int, float] = {}
            for p, n, _, _ in theirs.P[s][b]:
                gym_p[n] = gym_p.get(n, 0) + p
            assert mine == pytest.approx(gym_p), (s, a)


# ---------------------------------------------------------------- observations
def test_observation_modes_encode_the_same_state() -> None:
    rows = ["S.K", ".#D", "..G"]
    obs = {
        m: make("palaestra/GridWorld-v0", map=rows, observation_mode=m).reset(seed=0)[0]
        for m in OBSERVATION_MODES
    }
    assert obs["index"] == 0
    np.testing.assert_array_equal(obs["coords"], [0, 0, 0, 0])
    grid = obs["grid"]
    assert grid.shape == (len(GRID_CHANNELS), 3, 3) and grid.dtype == np.uint8
    ch = {n: i for i, n in enumerate(GRID_CHANNELS)}
    assert grid[ch["agent"], 0, 0] == 1 and grid[ch["agent"]].sum() == 1
    assert grid[ch["wall"], 1, 1] == 1 and grid[ch["goal"], 2, 2] == 1
    assert grid[ch["key"], 0, 2] == 1 and grid[ch["door_locked"], 1, 2] == 1
    ego = obs["egocentric"]
    assert ego.shape == (len(GRID_CHANNELS), 5, 5)
    assert ego[ch["agent"], 2, 2] == 1
    assert ego[ch["wall"], :2].all() and ego[ch["wall"], :, :2].all()  # outside the map
    assert ego[ch["wall"], 3, 3] == 1  # the map's wall at (1, 1)
    assert obs["rgb"].shape == (24, 24, 3)


def test_coords_and_grid_track_key_and_door_flags() -> None:
    env = make("palaestra/GridWorld-v0", map=["SKDG"], observation_mode="coords")
    env.reset(seed=0)
    env.step(RIGHT)
    obs, *_ = env.step(Action.PICKUP)
    np.testing.assert_array_equal(obs, [0, 1, 1, 0])
    obs, *_ = env.step(Action.TOGGLE)
    np.testing.assert_array_equal(obs, [0, 1, 1, 1])
    assert env.unwrapped.state == env.unwrapped.encode_state(0, 1, 0b11)


def test_state_encoding_round_trips() -> None:
    u = make("palaestra/DoorKey-v0").unwrapped
    for s in range(u.n_states):
        assert u.encode_state(*u.decode_state(s)) == s
    grid = u.state_index_grid(flags=1)
    assert grid[1, 1] == u.encode_state(1, 1, 1) and grid[0, 0] == -1


# ---------------------------------------------------------------- maze
def test_maze_is_seeded_perfect_and_solvable() -> None:
    a, b, c = generate_maze(11, 15, 3), generate_maze(11, 15, 3), generate_maze(11, 15, 4)
    assert a == b and a != c
    layout = parse_map(a)
    open_cells = {tuple(p) for p in np.argwhere(layout.cells != Cell.WALL).tolist()}
    seen, frontier = {layout.start}, [layout.start]
    while frontier:  # flood fill through every open cell, the goal included
        r, c = frontier.pop()
        for nxt in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if nxt in open_cells and nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == open_cells
    # A perfect maze is a tree: one fewer corridor link than cells.
    links = sum((r + 1, c) in open_cells for r, c in open_cells)
    links += sum((r, c + 1) in open_cells for r, c in open_cells)
    assert links == len(open_cells) - 1
    assert reachable(layout, doors_open=False)[layout.goals[0]]
    env = make("palaestra/Maze-v0", maze_size=(11, 15), maze_seed=3)
    assert env.unwrapped.layout.rows == tuple(a)
    assert greedy_return(env, value_iteration(env.unwrapped)) > 0


@pytest.mark.parametrize("size", [4, 6, 3, 2.5])
def test_maze_rejects_bad_sizes(size) -> None:
    with pytest.raises(ValueError, match="odd integer >= 5"):
        generate_maze(size, 7)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["S..", ".G"], "map row 1 has 2 columns, expected 3"),
        (["S.x", "..G"], r"map row 0, column 2: unknown character 'x'"),
        (["...", "..G"], "map has no start"),
        (["S..", "..."], "map has no goal"),
        (["S.S", "..G"], "map row 0, column 2: a second start"),
        (["S#.", "##G"], "map row 1, column 2: goal unreachable"),
        (["S.D", "K#G"], None),  # key reachable, door openable: valid
        (["SD.", "##G"], "goal unreachable"),  # locked door and no key
        ([], "map is empty"),
    ],
)
def test_malformed_maps_name_row_and_column(rows: list[str], message: str | None) -> None:
    if message is None:
        parse_map(rows)
        return
    with pytest.raises(ValueError, match=message):
        make("palaestra/GridWorld-v0", map=rows)


@pytest.mark.parametrize("action", [4, -1, 1.5, "up", None, True])
def test_actions_outside_the_space_raise(action) -> None:
    env = make("palaestra/TinyGrid-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the action space Discrete\(4\)"):
        env.unwrapped.step(action)


def test_numpy_integer_actions_are_accepted() -> None:
    env = make("palaestra/TinyGrid-v0")
    env.reset(seed=0)
    assert env.step(np.int64(1))[0] == 1
    assert env.step(np.array(2))[0] == 4


def test_unknown_observation_mode_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid modes: index, coords, grid, rgb, egocentric"):
        make("palaestra/GridWorld-v0", observation_mode="pixels")


def test_typo_in_keyword_fails_loudly() -> None:
    with pytest.raises(TypeError, match="step_rewrd"):
        make("palaestra/GridWorld-v0", step_rewrd=0.0)


def test_bad_wind_and_reset_options_raise() -> None:
    with pytest.raises(ValueError, match="wind has 2 entries, expected one per column"):
        make("palaestra/GridWorld-v0", map=["S.G"], wind=[0, 1])
    with pytest.raises(ValueError, match="unknown reset options"):
        make("palaestra/TinyGrid-v0").reset(options={"start": 3})
