"""Predator-prey: captures, the scripted prey, rewards, episode ends, observations, frames."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from ma_checks import check_determinism, check_pettingzoo_api, check_rejects_bad_actions

from envs.gridworld.cells import Cell
from envs.multiagent import parallel_env
from envs.multiagent.base import agent_color
from envs.multiagent.predator_prey import PREDATOR_PREY_MAP, PREY_COLOR, PredatorPreyEnv
from renders.gridworld import CELL_COLORS

UP, RIGHT, DOWN, LEFT, STAY = range(5)
OPEN = (".....",) * 5
CORRIDOR = (".......",)


def make(predators, prey, map=OPEN, **kwargs) -> PredatorPreyEnv:
    env = PredatorPreyEnv(
        n_predators=len(predators),
        n_prey=len(prey),
        map=map,
        predator_starts=predators,
        prey_starts=prey,
        **kwargs,
    )
    env.reset(seed=0)
    return env


def step(env: PredatorPreyEnv, *moves: int):
    return env.step(dict(zip(env.possible_agents, moves, strict=True)))


def run_episodes(env: PredatorPreyEnv, policy: str, episodes: int) -> tuple[float, float]:
    """(success rate, mean episode length) of ``"random"`` or ``"chase"`` predators."""
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    successes, lengths = 0, []
    for episode in range(episodes):
        if episode:
            env.reset()
        length = 0
        while env.agents:
            if policy == "chase":
                actions = env.chase_actions()
            else:
                actions = {agent: int(rng.integers(5)) for agent in env.agents}
            *_, infos = env.step(actions)
            length += 1
        successes += infos["predator_0"]["is_success"]
        lengths.append(length)
    return successes / episodes, float(np.mean(lengths))


# ---------------------------------------------------------------- API
@pytest.mark.parametrize(
    "make_env",
    [
        functools.partial(parallel_env, "palaestra/PredatorPrey-v0"),
        functools.partial(PredatorPreyEnv, n_predators=4, n_prey=2, map=OPEN, max_cycles=60),
        functools.partial(PredatorPreyEnv, n_predators=1, capture_count=1, max_cycles=40),
    ],
    ids=["default", "4-predators-2-prey", "lone-predator"],
)
def test_pettingzoo_api_and_determinism(make_env) -> None:
    check_pettingzoo_api(make_env)
    check_rejects_bad_actions(make_env)
    check_determinism(make_env, steps=500, min_episodes=4)


def test_defaults() -> None:
    env = PredatorPreyEnv()
    assert env.possible_agents == ["predator_0", "predator_1", "predator_2"]
    assert env.walls.shape == (7, 7) and env.walls.sum() == 5
    assert (env.n_prey, env.capture_count, env.flee_prob, env.max_cycles) == (1, 2, 0.8, 100)
    assert env.observation_space("predator_0").shape == (13,)
    assert env.state_space.shape == (10,)
    assert env.action_space("predator_1").n == 5
    assert len(PREDATOR_PREY_MAP) == 7


def test_random_placement_uses_distinct_floor_cells_and_follows_the_seed() -> None:
    env = PredatorPreyEnv(n_prey=2)
    placements = set()
    for seed in range(30):
        env.reset(seed=seed)
        cells = np.concatenate([env.predators, env.prey])
        assert len({tuple(c) for c in cells.tolist()}) == 5
        assert not env.walls[cells[:, 0], cells[:, 1]].any()
        placements.add(cells.tobytes())
        again = PredatorPreyEnv(n_prey=2)
        again.reset(seed=seed)
        np.testing.assert_array_equal(again.predators, env.predators)
        np.testing.assert_array_equal(again.prey, env.prey)
    assert len(placements) == 30


def test_fixed_prey_start_stays_and_random_predators_avoid_it() -> None:
    env = PredatorPreyEnv(prey_starts=[(3, 2)])
    for seed in range(20):
        env.reset(seed=seed)
        assert env.prey.tolist() == [[3, 2]]
        assert [3, 2] not in env.predators.tolist()


# ---------------------------------------------------------------- capture rule
@pytest.mark.parametrize(
    ("predators", "moves", "caught"),
    [
        ([(1, 2), (2, 1), (4, 4)], [STAY, STAY, STAY], True),  # two next to it
        ([(1, 2), (3, 2), (2, 1)], [STAY, STAY, STAY], True),  # three next to it
        ([(1, 2), (1, 1), (4, 4)], [STAY, STAY, STAY], False),  # one next to it, one diagonal
        ([(1, 2), (2, 0), (4, 4)], [STAY, STAY, STAY], False),  # one next to it, one 2 away
        ([(1, 2), (2, 0), (4, 4)], [STAY, RIGHT, STAY], True),  # the second closes in
        ([(0, 2), (2, 0), (4, 4)], [DOWN, RIGHT, STAY], True),  # both close in at once
        ([(1, 2), (2, 3), (4, 4)], [DOWN, STAY, STAY], True),  # a move onto the prey is blocked
    ],
    ids=["two", "three", "diagonal", "two-away", "closing", "both-closing", "into-prey"],
)
def test_prey_is_caught_by_two_predators_next_to_it(predators, moves, caught) -> None:
    env = make(predators, [(2, 2)], flee_prob=0.0)
    _, rewards, terms, truncs, infos = step(env, *moves)
    assert [2, 2] not in env.predators.tolist()  # nobody ever stands on the prey
    assert infos["predator_0"]["is_success"] is caught
    assert terms == dict.fromkeys(env.possible_agents, caught)
    assert not any(truncs.values())
    assert rewards == dict.fromkeys(env.possible_agents, pytest.approx(-0.01 + caught))
    assert env.agents == ([] if caught else env.possible_agents)
    assert env.free.tolist() == [not caught]


def test_capture_count_three_needs_three_predators() -> None:
    env = make([(1, 2), (2, 1), (4, 4)], [(2, 2)], capture_count=3, flee_prob=0.0)
    *_, infos = step(env, STAY, STAY, STAY)
    assert not infos["predator_0"]["is_success"]
    env = make([(1, 2), (2, 1), (3, 2)], [(2, 2)], capture_count=3)
    *_, infos = step(env, STAY, STAY, STAY)
    assert infos["predator_0"]["is_success"]


def test_a_prey_in_a_dead_end_is_caught_by_the_one_predator_blocking_it() -> None:
    # (0, 0) has a single floor neighbour, so one predator there leaves it nowhere to go.
    env = make([(1, 0), (1, 4)], [(0, 0)], map=(".####", "....."))
    *_, infos = step(env, STAY, STAY)
    assert infos["predator_0"]["is_success"]


def test_each_prey_caught_pays_once_and_the_last_one_ends_the_episode() -> None:
    env = make([(0, 1), (1, 0), (4, 3), (3, 4)], [(0, 0), (4, 4)], flee_prob=0.0)
    obs, rewards, terms, _, infos = step(env, STAY, STAY, STAY, STAY)
    assert rewards["predator_0"] == pytest.approx(2 - 0.01)
    assert infos["predator_3"] == {"is_success": True, "prey_caught": 2}
    assert all(terms.values())

    env = make([(0, 1), (1, 0), (2, 2), (3, 3)], [(0, 0), (4, 4)], flee_prob=1.0)
    obs, rewards, terms, _, infos = step(env, STAY, STAY, STAY, STAY)
    assert rewards["predator_0"] == pytest.approx(1 - 0.01)
    assert infos["predator_0"] == {"is_success": False, "prey_caught": 1}
    assert env.free.tolist() == [False, True] and not any(terms.values())
    assert obs["predator_2"][2:6].tolist() == [0, 0, 0.5, 0.5]  # caught prey: zero offset
    assert obs["predator_2"][6:8].tolist() == [0, 1]  # free flags


def test_truncation_at_max_cycles_is_not_success() -> None:
    env = make([(0, 0), (4, 4)], [(2, 2)], flee_prob=0.0, max_cycles=3, step_reward=-0.5)
    for cycle in range(1, 4):
        _, rewards, terms, truncs, infos = step(env, STAY, STAY)
        assert rewards == {"predator_0": -0.5, "predator_1": -0.5}
        assert not any(terms.values())
        assert all(truncs.values()) == (cycle == 3)
    assert not infos["predator_0"]["is_success"]
    assert env.agents == []


# ---------------------------------------------------------------- the scripted prey
def test_fleeing_prey_runs_down_the_corridor_until_cornered() -> None:
    env = make([(0, 0), (0, 6)], [(0, 3)], map=CORRIDOR, capture_count=1, flee_prob=1.0)
    step(env, STAY, STAY)  # 3 from both: any move brings one predator closer
    assert env.prey.tolist() == [[0, 3]]
    step(env, RIGHT, LEFT)  # (0, 1) and (0, 5): still best in the middle
    assert env.prey.tolist() == [[0, 3]]
    *_, infos = step(env, RIGHT, LEFT)  # caught between (0, 2) and (0, 4)
    assert infos["predator_0"]["is_success"]

    env = make([(0, 0)], [(0, 3)], map=CORRIDOR, capture_count=1, flee_prob=1.0)
    for expected in (4, 5, 6, 6):  # runs ahead of the predator, then stays in the corner
        step(env, RIGHT)
        assert env.prey.tolist() == [[0, expected]]
    *_, infos = step(env, RIGHT)  # predator at (0, 5), next to the cornered prey
    assert infos["predator_0"]["is_success"]


def test_fleeing_prey_breaks_ties_by_the_summed_distance() -> None:
    # From (2, 2): up, right and down all leave the nearest predator 3 away; up is farther
    # from the other one (sum 8 against 6), so a fleeing prey always goes up.
    for seed in range(10):
        env = make([(2, 0), (4, 4)], [(2, 2)], flee_prob=1.0)
        env.reset(seed=seed)
        step(env, STAY, STAY)
        assert env.prey.tolist() == [[1, 2]]


def test_fleeing_prey_picks_at_random_among_equal_moves() -> None:
    # From (2, 2), up, right and down all end 3 steps from the one predator at (2, 0).
    seen = set()
    for seed in range(60):
        env = make([(2, 0)], [(2, 2)], flee_prob=1.0, capture_count=1)
        env.reset(seed=seed)
        step(env, STAY)
        seen.add(tuple(env.prey[0].tolist()))
    assert seen == {(1, 2), (2, 3), (3, 2)}


def test_random_prey_takes_each_of_the_five_actions_about_equally() -> None:
    env = PredatorPreyEnv(
        n_predators=2,
        map=OPEN,
        predator_starts=[(0, 0), (4, 4)],
        prey_starts=[(2, 2)],
        flee_prob=0.0,
    )
    counts: dict[tuple[int, int], int] = {}
    env.reset(seed=0)
    trials = 2000
    for _ in range(trials):
        env.reset()
        step(env, STAY, STAY)
        moved = tuple(env.prey[0].tolist())
        counts[moved] = counts.get(moved, 0) + 1
    assert set(counts) == {(1, 2), (2, 3), (3, 2), (2, 1), (2, 2)}
    for count in counts.values():
        assert abs(count / trials - 0.2) < 0.04  # 4.5 standard deviations


def test_prey_never_moves_into_a_predator_wall_or_other_prey() -> None:
    env = PredatorPreyEnv(n_predators=4, n_prey=3, flee_prob=0.5, max_cycles=50)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(2000):
        if not env.agents:
            env.reset()
        before = env.prey.copy()
        env.step({agent: int(rng.integers(5)) for agent in env.agents})
        free = env.prey[env.free]
        cells = np.concatenate([env.predators, free])
        assert len({tuple(c) for c in cells.tolist()}) == len(cells)
        assert not env.walls[free[:, 0], free[:, 1]].any()
        assert (np.abs(env.prey - before).sum(axis=1) <= 1).all()


# ---------------------------------------------------------------- baselines
def test_random_predators_seldom_catch_the_prey_and_chasing_ones_almost_always_do() -> None:
    env = PredatorPreyEnv()
    random_success, random_length = run_episodes(env, "random", 60)
    chase_success, chase_length = run_episodes(env, "chase", 60)
    assert random_success <= 0.2 and random_length > 85
    assert chase_success >= 0.95 and chase_length < 20


def test_chase_actions_step_towards_the_nearest_prey_round_walls() -> None:
    # predator_0: up and left both end 1 step from the prey (lowest action wins);
    # predator_1: the wall at (0, 2) blocks the way left, so it goes round below.
    env = make([(1, 1), (0, 3)], [(0, 0)], map=("..#..", "....."))
    assert env.chase_actions() == {"predator_0": UP, "predator_1": DOWN}


# ---------------------------------------------------------------- observations and state
def test_observation_and_state_of_a_hand_made_situation() -> None:
    env = make([(0, 0), (2, 4), (4, 0)], [(1, 3)], flee_prob=0.0)
    obs, _ = env.reset(seed=0)
    # own (r/4, c/4); prey offset; prey free; next predators' offsets (wrapping); blocked u r d l
    expected_0 = [0, 0, 0.25, 0.75, 1, 0.5, 1, 1, 0, 1, 0, 0, 1]
    expected_2 = [1, 0, -0.75, 0.75, 1, -1, 0, -0.5, 1, 0, 0, 1, 1]
    np.testing.assert_allclose(obs["predator_0"], expected_0)
    np.testing.assert_allclose(obs["predator_2"], expected_2)
    assert all(o.dtype == np.float32 for o in obs.values())
    np.testing.assert_allclose(env.state(), [0, 0, 0.5, 1, 1, 0, 0.25, 0.75, 1, 0], rtol=1e-6)
    step(env, RIGHT, STAY, STAY)
    assert env.state()[-1] == pytest.approx(1 / 100)


# ---------------------------------------------------------------- arguments and frames
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"map": [".G..."]}, r"map row 0, column 1: .*'G'"),
        ({"map": ["...", ".."]}, "map row 1 has 2 columns, expected 3"),
        ({"map": ["...", "###", "..."]}, "map row 2, column 0: floor cell cut off"),
        ({"map": ["..."]}, "map has 3 floor cells; 3 predators and 1 prey need 4"),
        ({"n_predators": 0}, "n_predators must be >= 1"),
        ({"n_prey": 0}, "n_prey must be >= 1"),
        ({"n_predators": 2, "capture_count": 3}, "capture_count=3 is more than n_predators=2"),
        ({"flee_prob": 1.5}, r"flee_prob must be a probability in \[0, 1\]"),
        ({"prey_starts": [(1, 1)]}, r"prey_starts\[0\] = \(1, 1\) is not a floor cell"),
        ({"predator_starts": [(0, 0), (0, 0), (0, 1)]}, "must be distinct cells"),
        ({"predator_starts": [(0, 0)]}, "predator_starts must be 3 .* int pairs"),
        (
            {"predator_starts": [(0, 0), (0, 1), (0, 2)], "prey_starts": [(0, 2)]},
            r"prey_starts \[\(0, 2\)\] are also predator starts",
        ),
        ({"max_cycles": 0}, "max_cycles must be >= 1"),
        ({"tile_size": 0}, "tile_size must be >= 1"),
        ({"render_mode": "ansi"}, "unknown render_mode 'ansi'"),
    ],
)
def test_bad_arguments_fail_loudly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PredatorPreyEnv(**kwargs)


def test_a_typo_in_a_keyword_fails_loudly() -> None:
    with pytest.raises(TypeError, match="n_predator"):
        PredatorPreyEnv(n_predator=2)


def test_bad_actions_name_the_predator() -> None:
    env = make([(0, 0), (4, 4)], [(2, 2)])
    with pytest.raises(ValueError, match="predator_1"):
        env.step({"predator_0": STAY, "predator_1": 5})
    with pytest.raises(ValueError, match="no action for live agent 'predator_1'"):
        env.step({"predator_0": STAY})


def test_frame_shows_walls_each_predator_in_its_colour_and_the_prey() -> None:
    tile = 16
    walled = ("..#..", ".....", ".....")
    env = make([(0, 0), (2, 4)], [(2, 2)], map=walled, tile_size=tile, render_mode="rgb_array")
    frame = env.render()
    assert frame.shape == (3 * tile, 5 * tile, 3) and frame.dtype == np.uint8

    def centre(frame: np.ndarray, row: int, col: int) -> tuple[int, ...]:
        return tuple(frame[row * tile + tile // 2, col * tile + tile // 2])

    assert centre(frame, 0, 0) == agent_color(0)
    assert centre(frame, 2, 4) == agent_color(1)
    assert centre(frame, 2, 2) == PREY_COLOR
    assert centre(frame, 0, 2) == CELL_COLORS[Cell.WALL]
    assert centre(frame, 1, 1) == CELL_COLORS[Cell.FLOOR]

    env = make([(2, 1), (1, 2)], [(2, 2)], map=walled, tile_size=tile, render_mode="rgb_array")
    step(env, STAY, STAY)  # caught: the prey leaves the board
    frame = env.render()
    assert centre(frame, 2, 1) == agent_color(0) and centre(frame, 1, 2) == agent_color(1)
    assert not (frame.reshape(-1, 3) == PREY_COLOR).all(axis=1).any()
