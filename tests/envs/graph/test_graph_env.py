"""GraphNav env: API compliance, registration, determinism, actions, rewards, info, render."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest
from graph_cases import assert_same_obs, comb, follow_oracle, path_graph, rollout, triangle
from gymnasium.utils.env_checker import check_env

import envs
from envs.graph.graphnav import GraphNavEnv
from envs.graph.observation import OBS_MODES

GRAPH_IDS = list(envs.GRAPH_IDS)
# Gymnasium's and SB3's checkers step with unmasked action_space.sample(): under the default
# invalid_action="raise" a masked action raises by design, so they run with the penalty.
PENALTY = {"invalid_action": "penalty"}


def id_modes() -> list[tuple[str, str]]:
    """Every registered id with every observation mode it supports (index: fixed graphs)."""
    pairs = []
    for env_id in GRAPH_IDS:
        kwargs = envs.GRAPH_IDS[env_id][0]
        for mode in OBS_MODES:
            if mode == "dict" or "graph_seed" in kwargs:
                pairs.append((env_id, mode))
    return pairs


# ---------------------------------------------------------------- API compliance
@pytest.mark.parametrize(("env_id", "mode"), id_modes())
def test_check_env_passes_for_every_id_and_mode(env_id: str, mode: str) -> None:
    env = gym.make(env_id, obs_mode=mode, render_mode="rgb_array", **PENALTY)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("mode", OBS_MODES)
def test_check_env_passes_with_default_raise_when_no_action_is_masked(mode: str) -> None:
    # every node of a cycle has degree 2 = max_degree, so sampled actions are always allowed
    env = GraphNavEnv(nx.cycle_graph(8), max_degree=None, obs_mode=mode)
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize(("env_id", "mode"), id_modes())
def test_sb3_check_env_passes(env_id: str, mode: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id, obs_mode=mode, **PENALTY)
    sb3_env_checker.check_env(env.unwrapped, warn=False)


def test_index_mode_on_ids_with_a_new_graph_per_episode_raises() -> None:
    with pytest.raises(ValueError, match=r"obs_mode='index' needs a fixed graph"):
        gym.make("palaestra/GraphNav-v0", obs_mode="index")


@pytest.mark.parametrize(("env_id", "mode"), id_modes())
def test_same_seed_same_rollout_over_1000_steps(env_id: str, mode: str) -> None:
    actions = np.random.default_rng(1).integers(0, 10, 1000).tolist()
    a = gym.make(env_id, obs_mode=mode, **PENALTY)
    b = gym.make(env_id, obs_mode=mode, **PENALTY)
    ra, rb = rollout(a, actions, seed=7), rollout(b, actions, seed=7)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        assert_same_obs(x[0], y[0])
        assert x[1:] == y[1:]


def test_different_seeds_give_different_episodes() -> None:
    actions = np.random.default_rng(1).integers(0, 10, 300).tolist()
    env = gym.make("palaestra/GraphNav-v0", **PENALTY)
    a, b = rollout(env, actions, seed=1), rollout(env, actions, seed=2)
    assert [x[4]["optimal_cost"] for x in a] != [x[4]["optimal_cost"] for x in b]


def test_registered_ids_time_limits_and_descriptions() -> None:
    assert gym.spec("palaestra/GraphNav-v0").max_episode_steps == 100
    descriptions = envs.env_descriptions()
    for env_id in [*GRAPH_IDS, *envs.GRIDWORLD_IDS]:
        assert descriptions[env_id]
        assert gym.spec(env_id).max_episode_steps is not None
    env = gym.make("palaestra/GraphNav-v0", graph=path_graph(200), view_hops=2, start=0, goal=199)
    env.reset(seed=0)
    for _ in range(99):
        *_, term, trunc, info = env.step(0)  # right along the path: never reaches node 199
        assert not (term or trunc)
    *_, term, trunc, info = env.step(0)
    assert trunc and not term and info["is_success"] is False and info["cost_ratio"] == math.inf


def test_typo_in_keyword_fails_loudly() -> None:
    with pytest.raises(TypeError, match="num_node"):
        gym.make("palaestra/GraphNav-v0", num_node=30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"obs_mode": "pixels"}, r"unknown obs_mode 'pixels'; valid modes: dict, index"),
        ({"invalid_action": "ignore"}, r"unknown invalid_action 'ignore'; valid: raise, penalty"),
        ({"slip_prob": 1.5}, r"slip_prob must be a probability"),
        ({"render_mode": "ascii"}, r"unknown render_mode 'ascii'; valid modes: None, human"),
        ({"render_size": 8}, r"render_size must be an integer >= 16"),
    ],
)
def test_bad_options_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphNavEnv(**kwargs)


# ---------------------------------------------------------------- actions and rewards
def test_moves_cost_the_edge_weight_and_the_goal_pays() -> None:
    env = GraphNavEnv(comb(), max_degree=3, start=2, goal=4)
    _, info = env.reset(seed=0)
    assert info == {"optimal_cost": 7.0, "cost": 0.0, "is_success": False, "cost_ratio": math.inf}
    _, r, term, trunc, info = env.step(2)  # 2 -> 1 (left), weight 2
    assert (env.agent_node, r, term, trunc) == (1, -2.0, False, False)
    assert info == {"optimal_cost": 7.0, "cost": 2.0, "is_success": False, "cost_ratio": math.inf}
    env.step(0)  # 1 -> 2 (right), weight 2
    env.step(0)  # 2 -> 3, weight 3
    _, r, term, _, info = env.step(0)  # 3 -> 4, weight 4: the goal
    assert (r, term) == (1.0 - 4.0, True)
    assert info == {"optimal_cost": 7.0, "cost": 11.0, "is_success": True, "cost_ratio": 11 / 7}


def test_goal_reward_is_configurable() -> None:
    env = GraphNavEnv(path_graph(2), start=0, goal=1, goal_reward=10.0)
    env.reset(seed=0)
    assert env.step(0)[1] == 10.0 - 1.0


def test_masked_action_raises_naming_node_k_and_degree() -> None:
    env = GraphNavEnv(comb(), max_degree=3, start=5, goal=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 2 is masked at node 5: it has degree 1"):
        env.step(2)
    assert env.agent_node == 5


def test_penalty_option_stays_put() -> None:
    env = GraphNavEnv(comb(), max_degree=3, start=5, goal=0, **PENALTY)
    obs0, _ = env.reset(seed=0)
    obs, r, term, trunc, info = env.step(1)
    assert (r, term, trunc, env.agent_node) == (-1.0, False, False, 5)
    assert info["cost"] == 0.0 and env.walked == [5]
    assert_same_obs(obs, obs0)
    env = GraphNavEnv(
        comb(), max_degree=3, start=5, goal=0, invalid_action_penalty=-0.25, **PENALTY
    )
    env.reset(seed=0)
    assert env.step(2)[1] == -0.25


@pytest.mark.parametrize("action", [3, -1, 1.5, "1", None, True, np.array([0, 1])])
@pytest.mark.parametrize("invalid_action", ["raise", "penalty"])
def test_actions_outside_the_space_always_raise(action, invalid_action: str) -> None:
    env = GraphNavEnv(comb(), max_degree=3, invalid_action=invalid_action)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the action space Discrete\(3\)"):
        env.step(action)


def test_numpy_integer_actions_are_accepted() -> None:
    env = GraphNavEnv(path_graph(4), start=0, goal=3)
    env.reset(seed=0)
    env.step(np.int64(0))
    env.step(np.array(0))
    assert env.agent_node == 2


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        GraphNavEnv(path_graph(3)).step(0)


def test_slip_always_moves_along_a_uniformly_random_edge() -> None:
    env = GraphNavEnv(nx.star_graph(4), start=0, goal=1, slip_prob=1.0, **PENALTY)
    counts = np.zeros(5, dtype=int)
    env.reset(seed=0)
    for _ in range(2000):
        env.reset(options={"start": 0, "goal": 1})
        env.step(0)  # intended: action 0's leaf; a slip draws among all four edges
        counts[env.agent_node] += 1
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] / 2000 - 0.25) < 0.04)


def test_no_slip_always_takes_the_intended_edge() -> None:
    env = GraphNavEnv(nx.star_graph(4), start=0, goal=1, slip_prob=0.0)
    env.reset(seed=0)
    env.step(2)
    assert env.agent_node == env.neighbors(0)[2]


def test_slippery_episodes_are_seeded() -> None:
    actions = np.random.default_rng(0).integers(0, 10, 400).tolist()
    env = gym.make("palaestra/GraphNavSlippery-v0", obs_mode="index", **PENALTY)
    a, b = rollout(env, actions, seed=3), rollout(env, actions, seed=3)
    assert [x[:4] for x in a] == [x[:4] for x in b]
    c = rollout(env, actions, seed=4)
    assert [x[0] for x in a] != [x[0] for x in c]


# ---------------------------------------------------------------- start and goal
def test_start_and_goal_from_constructor_and_options() -> None:
    env = GraphNavEnv(path_graph(6), start=1, goal=4)
    env.reset(seed=0)
    assert (env.start_node, env.goal_node) == (1, 4)
    env.reset(options={"start": 5, "goal": 0})
    assert (env.start_node, env.agent_node, env.goal_node) == (5, 5, 0)
    env.reset(options={"goal": 2})
    assert (env.start_node, env.goal_node) == (1, 2)
    env.reset()
    assert (env.start_node, env.goal_node) == (1, 4)


def test_only_one_endpoint_fixed_draws_the_other() -> None:
    env = GraphNavEnv(path_graph(6), goal=3)
    starts = set()
    for seed in range(30):
        env.reset(seed=seed)
        assert env.goal_node == 3
        starts.add(env.start_node)
    assert starts == {0, 1, 2, 4, 5}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"begin": 0}, r"unknown reset options \['begin'\]; valid options: start, goal"),
        ({"start": 2, "goal": 2}, r"start and goal are the same node \(2\)"),
        ({"goal": 9}, r"goal=9 is not a node id of this graph: ids are 0..5"),
    ],
)
def test_bad_reset_options_raise(options: dict, message: str) -> None:
    env = GraphNavEnv(path_graph(6))
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


def test_fixed_endpoints_on_a_new_graph_per_episode() -> None:
    env = GraphNavEnv("grid", num_nodes=25, start=0, goal=24)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert (env.start_node, env.goal_node) == (0, 24)
        assert info["optimal_cost"] >= 1
    with pytest.raises(ValueError, match=r"goal=25 is not a node id"):
        GraphNavEnv("grid", num_nodes=25, goal=25)


# ---------------------------------------------------------------- index mode
def test_index_mode_encodes_goal_and_node() -> None:
    env = GraphNavEnv(path_graph(5), obs_mode="index")
    assert env.observation_space == gym.spaces.Discrete(25)
    obs, _ = env.reset(seed=0, options={"start": 1, "goal": 3})
    assert obs == 3 * 5 + 1
    obs, *_ = env.step(0)
    assert obs == 3 * 5 + 2
    fixed_goal = GraphNavEnv(path_graph(5), obs_mode="index", goal=4)
    assert fixed_goal.observation_space == gym.spaces.Discrete(5)
    obs, _ = fixed_goal.reset(seed=0, options={"start": 2})
    assert obs == 2


def test_index_mode_oracle_reaches_the_goal_optimally() -> None:
    env = gym.make("palaestra/GraphNavFixed-v0")
    for seed in range(10):
        env.reset(seed=seed)
        _, info, _ = follow_oracle(env)
        assert info["is_success"] and info["cost_ratio"] == pytest.approx(1.0)


# ---------------------------------------------------------------- rendering
def test_rgb_array_frames() -> None:
    env = GraphNavEnv(triangle(), render_mode="rgb_array", render_size=128, start=0, goal=1)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    env.step(env.optimal_action())
    assert not np.array_equal(frame, env.render())
    assert env.frame(size=64).shape == (64, 64, 3)


def test_big_graphs_render_the_neighbourhood_only() -> None:
    env = GraphNavEnv("grid", num_nodes=900, graph_seed=0, view_hops=2, render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(5):
        env.step(env.optimal_action())
    frame = env.render()
    assert frame.shape == (512, 512, 3)


def test_human_mode_shows_frames_in_a_window() -> None:
    import pygame

    env = GraphNavEnv(triangle(), render_mode="human", render_size=96)
    env.reset(seed=0)
    assert env.render() is None
    assert pygame.display.get_surface().get_size() == (96, 96)
    env.close()
    assert not pygame.display.get_init()


def test_render_without_mode_warns() -> None:
    env = GraphNavEnv(triangle())
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_stepping_without_render_mode_loads_neither_pygame_nor_networkx() -> None:
    code = (
        "import sys, gymnasium as gym, envs\n"
        "env = gym.make('palaestra/GraphNav-v0', invalid_action='penalty')\n"
        "env.reset(seed=0)\n"
        "for _ in range(50):\n"
        "    env.step(env.action_space.sample())\n"
        "env.close()\n"
        "print('pygame' in sys.modules, 'networkx' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False False"
