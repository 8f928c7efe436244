"""Repeated matrix games: payoff tables, optima, observations, episode length, API."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from ma_checks import check_determinism, check_pettingzoo_api, check_rejects_bad_actions

from envs.multiagent import parallel_env
from envs.multiagent.base import agent_color
from envs.multiagent.matrix_games import (
    CLIMBING,
    GAMES,
    PRISONERS_DILEMMA,
    STAG_HUNT,
    MatrixGame,
    MatrixGameEnv,
    penalty_game,
)

GAME_IDS = [
    "palaestra/ClimbingGame-v0",
    "palaestra/PenaltyGame-v0",
    "palaestra/StagHunt-v0",
    "palaestra/PrisonersDilemma-v0",
]


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_pettingzoo_api_and_determinism(env_id: str) -> None:
    make_env = functools.partial(parallel_env, env_id)
    check_pettingzoo_api(make_env)
    check_rejects_bad_actions(make_env)
    check_determinism(make_env, steps=500)


def test_climbing_table_is_claus_and_boutilier() -> None:
    table = [[11, -30, 0], [-30, 7, 6], [0, 0, 5]]
    np.testing.assert_array_equal(CLIMBING.payoffs, [table, table])
    assert CLIMBING.cooperative
    assert CLIMBING.optimal_joint_actions == ((0, 0),)
    assert CLIMBING.optimal_payoff == 11.0


@pytest.mark.parametrize("k", [-10.0, -100.0, 0.0])
def test_penalty_table_and_its_two_optima(k: float) -> None:
    game = penalty_game(k)
    table = [[10, 0, k], [0, 2, 0], [k, 0, 10]]
    np.testing.assert_array_equal(game.payoffs, [table, table])
    assert game.optimal_joint_actions == ((0, 0), (2, 2))
    assert game.optimal_payoff == 10.0
    assert GAMES["penalty"].payoffs[0, 0, 2] == -10.0  # the default k


def test_symmetric_games_give_agent_1_the_transposed_table() -> None:
    np.testing.assert_array_equal(STAG_HUNT.payoffs, [[[4, 0], [3, 3]], [[4, 3], [0, 3]]])
    np.testing.assert_array_equal(PRISONERS_DILEMMA.payoffs, [[[3, 0], [5, 1]], [[3, 5], [0, 1]]])
    assert not STAG_HUNT.cooperative and not PRISONERS_DILEMMA.cooperative
    # The welfare optimum, not the Nash equilibrium (defect, defect).
    assert PRISONERS_DILEMMA.optimal_joint_actions == ((0, 0),)
    assert PRISONERS_DILEMMA.optimal_payoff == 3.0
    assert STAG_HUNT.optimal_joint_actions == ((0, 0),)


def test_payoff_tables_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        CLIMBING.payoffs[0, 0, 0] = 100.0


@pytest.mark.parametrize("name", list(GAMES))
def test_every_joint_action_pays_its_table_entry_and_is_observed(name: str) -> None:
    env = MatrixGameEnv(game=name)
    n = env.game.n_actions
    for a0, a1 in itertools.product(range(n), repeat=2):
        env.reset(seed=0)
        obs, rewards, terms, truncs, infos = env.step({"agent_0": a0, "agent_1": a1})
        assert rewards == {
            "agent_0": env.game.payoffs[0, a0, a1],
            "agent_1": env.game.payoffs[1, a0, a1],
        }
        assert obs == {"agent_0": a0 * n + a1, "agent_1": a0 * n + a1}
        expected_state = np.zeros(n * n + 1, dtype=np.float32)
        expected_state[a0 * n + a1] = 1.0
        np.testing.assert_array_equal(env.state(), expected_state)
        assert infos["agent_1"]["joint_action"] == (a0, a1)
        assert not any(terms.values()) and not any(truncs.values())


def test_reset_observes_the_start_value_and_carries_the_optimum() -> None:
    env = MatrixGameEnv(game="penalty", k=-50.0)
    obs, infos = env.reset(seed=0)
    assert obs == {"agent_0": 9, "agent_1": 9}
    assert env.observation_space("agent_0").n == 10
    np.testing.assert_array_equal(env.state(), np.eye(10, dtype=np.float32)[9])
    for info in infos.values():
        assert info["optimal_joint_actions"] == ((0, 0), (2, 2))
        assert info["optimal_joint_action"] == (0, 0)
        assert info["optimal_payoff"] == 10.0
    _, rewards, *_ = env.step({"agent_0": 0, "agent_1": 2})
    assert rewards == {"agent_0": -50.0, "agent_1": -50.0}


def test_episode_truncates_after_max_cycles_without_terminating() -> None:
    env = MatrixGameEnv(game="stag_hunt", max_cycles=7)
    env.reset(seed=0)
    for step in range(1, 8):
        assert env.agents == ["agent_0", "agent_1"]
        _, _, terms, truncs, _ = env.step({"agent_0": 0, "agent_1": 1})
        assert not any(terms.values())
        assert all(truncs.values()) == (step == 7)
    assert env.agents == []
    with pytest.raises(ValueError, match="reset"):
        env.step({"agent_0": 0, "agent_1": 0})


def test_metadata_name_follows_the_game() -> None:
    assert MatrixGameEnv(game="prisoners_dilemma").metadata["name"] == "prisoners_dilemma_v0"
    assert MatrixGameEnv.metadata["name"] == "matrix_game_v0"


def test_custom_game_instance() -> None:
    game = MatrixGame("coordination", np.stack([np.eye(4), np.eye(4)]), ("w", "x", "y", "z"))
    env = MatrixGameEnv(game=game)
    assert env.action_space("agent_0").n == 4
    env.reset(seed=0)
    _, rewards, *_ = env.step({"agent_0": 3, "agent_1": 3})
    assert rewards == {"agent_0": 1.0, "agent_1": 1.0}
    assert game.optimal_joint_actions == ((0, 0), (1, 1), (2, 2), (3, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"game": "chicken"}, "unknown game 'chicken'; valid games: climbing, penalty"),
        ({"game": "climbing", "k": -5.0}, "k applies only to game='penalty'"),
        ({"game": "penalty", "k": "-5"}, "k must be a number"),
        ({"max_cycles": 0}, "max_cycles must be >= 1"),
        ({"render_mode": "ansi"}, "unknown render_mode 'ansi'"),
    ],
)
def test_bad_arguments_fail_loudly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatrixGameEnv(**kwargs)


def test_payoff_shape_must_match_the_actions() -> None:
    with pytest.raises(ValueError, match=r"payoffs must have shape \(2, 2, 2\)"):
        MatrixGame("bad", np.zeros((2, 3, 3)), ("a", "b"))


def test_frame_marks_each_agents_last_choice_in_its_colour() -> None:
    env = MatrixGameEnv(game="climbing", render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    env.step({"agent_0": 2, "agent_1": 1})
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    # agent_0's row strip is on the left edge, agent_1's column strip on the top edge:
    # one band each, opposite the chosen row (the last of 3) and column (the middle one).
    rows_marked = np.flatnonzero((frame[:, 0] == agent_color(0)).all(axis=1))
    cols_marked = np.flatnonzero((frame[0, :] == agent_color(1)).all(axis=1))
    for band in (rows_marked, cols_marked):
        assert len(band) > 0 and np.all(np.diff(band) == 1)
    height, width = frame.shape[:2]
    assert height * 2 / 3 < rows_marked.mean() < height
    assert width / 3 < cols_marked.mean() < width * 2 / 3
    assert not (before[:, 0] == agent_color(0)).all(axis=1).any()
