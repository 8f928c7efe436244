"""Cooperative coverage: placement, moves and collisions, rewards, success, observations."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from ma_checks import check_determinism, check_pettingzoo_api, check_rejects_bad_actions

from envs.gridworld.cells import Cell
from envs.multiagent import parallel_env
from envs.multiagent.base import agent_color
from envs.multiagent.cover import COVER_MAP, CoverEnv
from renders.gridworld import CELL_COLORS

UP, RIGHT, DOWN, LEFT, STAY = range(5)

# 3 x 5 with one wall: the longest shortest path (D) is 6, e.g. (0, 0) to (0, 4).
WALLED = ("..#..", ".....", ".....")
OPEN = (".....", ".....", ".....")


def make(starts, targets, map=OPEN, **kwargs) -> CoverEnv:
    env = CoverEnv(n_agents=len(starts), map=map, agent_starts=starts, targets=targets, **kwargs)
    env.reset(seed=0)
    return env


def step(env: CoverEnv, *moves: int):
    return env.step(dict(zip(env.possible_agents, moves, strict=True)))


@pytest.mark.parametrize(
    "make_env",
    [
        functools.partial(parallel_env, "palaestra/CoopCover-v0"),
        functools.partial(CoverEnv, n_agents=2, map=WALLED, max_cycles=20),
    ],
    ids=["default", "walled-2-agents"],
)
def test_pettingzoo_api_and_determinism(make_env) -> None:
    check_pettingzoo_api(make_env)
    check_rejects_bad_actions(make_env)
    check_determinism(make_env, steps=500, min_episodes=5)


def test_defaults_are_three_agents_on_the_7x7_map() -> None:
    env = CoverEnv()
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"]
    assert env.walls.shape == (7, 7) and env.walls.sum() == 4
    assert env.max_cycles == 50
    assert env.observation_space("agent_0").shape == (19,)
    assert env.state_space.shape == (16,)
    assert env.action_space("agent_2").n == 5
    assert len(COVER_MAP) == 7


def test_random_placement_uses_distinct_floor_cells_and_follows_the_seed() -> None:
    env = CoverEnv(map=WALLED)
    placements = set()
    for seed in range(30):
        _, infos = env.reset(seed=seed)
        cells = np.concatenate([env.positions, env.target_cells])
        assert len({tuple(c) for c in cells.tolist()}) == 6
        assert not env.walls[cells[:, 0], cells[:, 1]].any()
        assert infos["agent_0"]["covered_targets"] == 0
        placements.add(cells.tobytes())
        again = CoverEnv(map=WALLED)
        again.reset(seed=seed)
        np.testing.assert_array_equal(again.positions, env.positions)
        np.testing.assert_array_equal(again.target_cells, env.target_cells)
    assert len(placements) == 30


def test_fixed_targets_stay_and_random_starts_avoid_them() -> None:
    targets = [(0, 0), (2, 4)]
    env = CoverEnv(n_agents=2, map=OPEN, targets=targets)
    for seed in range(20):
        env.reset(seed=seed)
        np.testing.assert_array_equal(env.target_cells, targets)
        assert not {tuple(p) for p in env.positions.tolist()} & set(targets)


def test_observation_of_a_hand_made_situation() -> None:
    env = CoverEnv(n_agents=2, map=WALLED, agent_starts=[(0, 0), (2, 4)], targets=[(0, 1), (2, 3)])
    obs, _ = env.reset(seed=0)
    # own (r/2, c/4); target offsets; covered flags; other agent's offset; blocked u, r, d, l
    expected_0 = [0, 0, 0, 0.25, 1, 0.75, 0, 0, 1, 1, 1, 0, 0, 1]
    expected_1 = [1, 1, -1, -0.75, 0, -0.25, 0, 0, -1, -1, 0, 1, 1, 0]
    np.testing.assert_allclose(obs["agent_0"], expected_0)
    np.testing.assert_allclose(obs["agent_1"], expected_1)
    assert obs["agent_0"].dtype == np.float32

    obs, *_ = step(env, RIGHT, STAY)  # agent_0 onto target 0, next to the wall
    np.testing.assert_allclose(obs["agent_0"], [0, 0.25, 0, 0, 1, 0.5, 1, 0, 1, 0.75, 1, 1, 0, 0])
    np.testing.assert_allclose(
        env.state(), [0, 0.25, 1, 1, 0, 0.25, 1, 0.75, 1, 0, 1 / 50], rtol=1e-6
    )


def test_reward_is_wall_aware_distance_over_the_map_diameter() -> None:
    # Target (0, 3) is 2 cells from (0, 1) as the crow flies but 4 round the wall; D = 6.
    env = make([(0, 1)], [(0, 3)], map=WALLED)
    _, rewards, *_ = step(env, STAY)
    assert rewards["agent_0"] == pytest.approx(-4 / 6)
    _, rewards, *_ = step(env, DOWN)
    assert rewards["agent_0"] == pytest.approx(-3 / 6)


def test_team_reward_averages_nearest_agent_distances_and_is_shared() -> None:
    # Both targets are nearest to agent_0 (1 and 3 steps); agent_1 is 2 and 6 steps away.
    env = make([(0, 1), (2, 0)], [(0, 0), (0, 4)], map=OPEN)
    _, rewards, *_ = step(env, STAY, STAY)
    assert rewards == {"agent_0": pytest.approx(-2 / 6), "agent_1": pytest.approx(-2 / 6)}


def _reward_after(starts, moves, targets=((2, 0), (2, 4), (2, 2))):
    env = make(starts, list(targets[: len(starts)]))
    _, rewards, _, _, infos = step(env, *moves)
    return env.positions.tolist(), rewards["agent_0"], infos["agent_0"]["collisions"]


def _staying_reward(starts, targets=((2, 0), (2, 4), (2, 2))) -> float:
    return _reward_after(starts, [STAY] * len(starts), targets)[1]


@pytest.mark.parametrize(
    ("starts", "moves", "after", "collisions"),
    [
        ([(0, 0), (0, 2)], [RIGHT, LEFT], [[0, 0], [0, 2]], 2),  # both into one cell
        ([(0, 0), (0, 1)], [RIGHT, LEFT], [[0, 0], [0, 1]], 2),  # swap
        ([(0, 0), (0, 1)], [RIGHT, STAY], [[0, 0], [0, 1]], 1),  # into a staying agent
        ([(0, 0), (0, 1)], [RIGHT, UP], [[0, 0], [0, 1]], 1),  # into an agent bumping a wall
        ([(0, 0), (0, 1)], [RIGHT, RIGHT], [[0, 1], [0, 2]], 0),  # following is allowed
        ([(0, 0), (0, 1), (0, 2)], [RIGHT, RIGHT, STAY], [[0, 0], [0, 1], [0, 2]], 2),  # chain
        ([(0, 0), (1, 1)], [UP, LEFT], [[0, 0], [1, 0]], 0),  # the map edge is no collision
    ],
    ids=["same-cell", "swap", "into-stayer", "into-blocked", "follow", "chain", "edge"],
)
def test_collisions_block_the_move_and_cost_each_mover(starts, moves, after, collisions) -> None:
    positions, reward, counted = _reward_after(starts, moves)
    assert positions == after
    assert counted == collisions
    # The same positions reached without colliding score exactly 0.1 per collision more.
    assert reward == pytest.approx(_staying_reward(after) - 0.1 * collisions)


def test_walls_block_moves_without_a_collision() -> None:
    env = make([(0, 1)], [(2, 0)], map=WALLED)
    _, _, _, _, infos = step(env, RIGHT)
    assert env.positions.tolist() == [[0, 1]]
    assert infos["agent_0"]["collisions"] == 0


def test_success_when_every_target_is_covered_at_once() -> None:
    env = make([(0, 0), (2, 4)], [(0, 1), (2, 3)])
    _, rewards, terms, truncs, infos = step(env, RIGHT, STAY)
    assert infos["agent_0"]["covered_targets"] == 1
    assert not any(terms.values()) and not infos["agent_0"]["is_success"]
    assert env.agents == ["agent_0", "agent_1"]

    _, rewards, terms, truncs, infos = step(env, STAY, LEFT)
    assert terms == {"agent_0": True, "agent_1": True}
    assert truncs == {"agent_0": False, "agent_1": False}
    assert rewards == {"agent_0": 0.0, "agent_1": 0.0}
    assert all(info["is_success"] and info["covered_targets"] == 2 for info in infos.values())
    assert env.agents == []


def test_one_agent_on_a_target_does_not_cover_another() -> None:
    env = make([(0, 0), (0, 1)], [(0, 2), (0, 3)])
    step(env, STAY, RIGHT)
    _, _, terms, _, infos = step(env, STAY, RIGHT)
    assert infos["agent_0"]["covered_targets"] == 1 and not any(terms.values())


def test_truncation_at_max_cycles_is_not_success() -> None:
    env = make([(0, 0), (0, 1)], [(2, 3), (2, 4)], max_cycles=3)
    for cycle in range(1, 4):
        _, _, terms, truncs, infos = step(env, STAY, STAY)
        assert not any(terms.values())
        assert all(truncs.values()) == (cycle == 3)
    assert not infos["agent_0"]["is_success"]
    assert env.agents == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"map": [".G."]}, "row 0, column 1: unknown character 'G'; valid characters: '.' '#'$"),
        ({"map": ["...", ".."]}, "map row 1 has 2 columns, expected 3"),
        ({"map": ["...", "###", "..."]}, "map row 2, column 0: floor cell cut off"),
        ({"n_agents": 3, "map": ["....."]}, "map has 5 floor cells; 3 agents and 3 targets"),
        ({"n_agents": 0}, "n_agents must be >= 1"),
        ({"n_agents": 2, "map": WALLED, "agent_starts": [(0, 2), (1, 1)]}, r"agent_starts\[0\]"),
        ({"n_agents": 2, "agent_starts": [(0, 0), (0, 0)]}, "must be distinct cells"),
        ({"n_agents": 2, "targets": [(0, 0)]}, "targets must be 2 .* int pairs"),
        ({"n_agents": 1, "agent_starts": [(9, 0)]}, r"\(9, 0\) is not a floor cell of the 7x7"),
        (
            {"n_agents": 2, "agent_starts": [(0, 0), (1, 1)], "targets": [(1, 1), (3, 3)]},
            r"targets \[\(1, 1\)\] are also agent starts",
        ),
        ({"max_cycles": 0}, "max_cycles must be >= 1"),
        ({"tile_size": 0}, "tile_size must be >= 1"),
    ],
)
def test_bad_arguments_fail_loudly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CoverEnv(**kwargs)


def test_frame_shows_walls_targets_and_each_agent_in_its_colour() -> None:
    tile = 16
    env = make(
        [(0, 0), (2, 4)], [(0, 1), (2, 3)], map=WALLED, tile_size=tile, render_mode="rgb_array"
    )
    frame = env.render()
    assert frame.shape == (3 * tile, 5 * tile, 3) and frame.dtype == np.uint8

    def centre(row: int, col: int) -> tuple[int, ...]:
        return tuple(frame[row * tile + tile // 2, col * tile + tile // 2])

    assert centre(0, 0) == agent_color(0)
    assert centre(2, 4) == agent_color(1)
    assert centre(0, 1) == CELL_COLORS[Cell.GOAL]
    assert centre(2, 3) == CELL_COLORS[Cell.GOAL]
    assert centre(0, 2) == CELL_COLORS[Cell.WALL]
    assert centre(1, 1) == CELL_COLORS[Cell.FLOOR]
