"""GraphNav observations: neighbour order, features, masks, the local view and its limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from graph_cases import COMB_POS, comb, make_graph, path_graph

from envs.graph.graphnav import GraphNavEnv
from envs.graph.observation import (
    FEATURE_NAMES,
    NODE_FEATURES,
    OBS_KEYS,
    VISITED,
)


def star() -> object:
    """Centre 0 and leaves at 0, 90, 180 and 270 degrees; leaf 5 shares 1's angle."""
    positions = {
        0: (0.5, 0.5),
        1: (1.0, 0.5),
        2: (0.5, 1.0),
        3: (0.0, 0.5),
        4: (0.5, 0.0),
        5: (0.75, 0.5),
        6: (0.9, 0.1),  # -45 degrees: last counter-clockwise from +x
    }
    return make_graph(positions, edges=[(0, i) for i in range(1, 7)])


def test_neighbours_ordered_by_angle_counter_clockwise_ties_by_id() -> None:
    env = GraphNavEnv(star(), max_degree=None)
    assert env.neighbors(0) == [1, 5, 2, 3, 4, 6]
    assert env.neighbors(3) == [0]


def test_layout_constants() -> None:
    assert NODE_FEATURES == 7 == len(FEATURE_NAMES)
    assert FEATURE_NAMES == ("x", "y", "goal_dx", "goal_dy", "goal_dist", "is_goal", "visited")
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=6)
    assert set(env.observation_space.spaces) == set(OBS_KEYS)
    shapes = {k: s.shape for k, s in env.observation_space.spaces.items()}
    assert shapes == {
        "node": (7,),
        "goal": (7,),
        "neighbors": (3, 7),
        "edge_weights": (3,),
        "view_nodes": (6, 7),
        "view_adjacency": (6, 6),
        "view_mask": (6,),
        "action_mask": (3,),
    }


def test_features_of_node_goal_and_neighbours() -> None:
    env = GraphNavEnv(comb(), max_degree=4, start=2, goal=4)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs["node"], [0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 1.0])
    np.testing.assert_allclose(obs["goal"], [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    # action order at node 2: 3 (right), 5 (up), 1 (left); then a zero row.
    expected = [
        [0.75, 0.0, 0.25, 0.0, 0.25, 0.0, 0.0],
        [0.5, 0.5, 0.5, -0.5, math.hypot(0.5, 0.5), 0.0, 0.0],
        [0.25, 0.0, 0.75, 0.0, 0.75, 0.0, 0.0],
        [0.0] * 7,
    ]
    np.testing.assert_allclose(obs["neighbors"], expected, rtol=1e-6)
    np.testing.assert_array_equal(obs["edge_weights"], [3.0, 5.0, 2.0, 0.0])
    np.testing.assert_array_equal(obs["action_mask"], [1, 1, 1, 0])
    assert obs["action_mask"].dtype == np.int8
    np.testing.assert_array_equal(env.action_masks(), [True, True, True, False])


def test_visited_marks_every_node_stood_on() -> None:
    env = GraphNavEnv(path_graph(5), start=0, goal=4)
    obs, _ = env.reset(seed=0)
    assert obs["view_nodes"][:5, VISITED].tolist() == [1, 0, 0, 0, 0]
    obs, *_ = env.step(0)  # 0 -> 1 (its only neighbour)
    obs, *_ = env.step(1)  # 1 -> 0 (left is at 180 degrees: action 1)
    assert env.agent_node == 0
    # the view of node 0 is 0, 1, 2, 3, 4 in BFS order
    assert obs["view_nodes"][:5, VISITED].tolist() == [1, 1, 0, 0, 0]
    assert env.walked == [0, 1, 0]
    obs, *_ = env.reset(seed=0)
    assert obs["view_nodes"][:5, VISITED].tolist() == [1, 0, 0, 0, 0]


def test_full_view_rows_adjacency_and_mask() -> None:
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=8, start=2, goal=0)
    obs, _ = env.reset(seed=0)
    order = [2, 3, 5, 1, 4, 0]  # current, neighbours in action order, then BFS
    xy = np.array([COMB_POS[n] for n in order])
    np.testing.assert_allclose(obs["view_nodes"][:6, :2], xy)
    assert not obs["view_nodes"][6:].any()
    np.testing.assert_array_equal(obs["view_mask"], [1, 1, 1, 1, 1, 1, 0, 0])
    expected = np.zeros((8, 8), dtype=np.float32)
    for (a, b), w in {(0, 1): 3.0, (0, 2): 5.0, (0, 3): 2.0, (1, 4): 4.0, (3, 5): 1.0}.items():
        expected[a, b] = expected[b, a] = w
    np.testing.assert_array_equal(obs["view_adjacency"], expected)
    # neighbours are view rows 1..deg
    np.testing.assert_array_equal(obs["neighbors"], obs["view_nodes"][1:4])
    np.testing.assert_array_equal(obs["node"], obs["view_nodes"][0])


def test_view_hops_limit_the_view() -> None:
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=8, view_hops=1, start=2, goal=0)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["view_mask"], [1, 1, 1, 1, 0, 0, 0, 0])
    adjacency = obs["view_adjacency"]
    assert adjacency[0, 1:4].tolist() == [3.0, 5.0, 2.0]
    assert adjacency[1:, 1:].sum() == 0  # 3-4 and 1-0 lead outside the view
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=8, view_hops=2, start=2, goal=0)
    obs, _ = env.reset(seed=0)
    assert obs["view_mask"].sum() == 6


def test_view_truncates_at_max_view_nodes() -> None:
    # 2 hops reach all 6 nodes; 5 rows keep the first 5 in BFS order
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=5, view_hops=2, start=2, goal=0)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["view_mask"], [1, 1, 1, 1, 1])
    np.testing.assert_allclose(obs["view_nodes"][:, :2], [COMB_POS[n] for n in (2, 3, 5, 1, 4)])
    assert obs["view_adjacency"][1, 4] == 4.0  # 3-4 kept; node 0 (and edge 1-0) cut off
    assert obs["view_adjacency"][3].tolist() == [2.0, 0, 0, 0, 0]


def test_view_follows_the_agent() -> None:
    env = GraphNavEnv(comb(), max_degree=3, max_view_nodes=8, view_hops=1, start=2, goal=0)
    env.reset(seed=0)
    obs, *_ = env.step(1)  # 2 -> 5, the tooth
    np.testing.assert_array_equal(obs["view_mask"], [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(obs["view_nodes"][:2, :2], [COMB_POS[5], COMB_POS[2]])
    assert obs["view_adjacency"][0, 1] == obs["view_adjacency"][1, 0] == 5.0
    np.testing.assert_array_equal(obs["action_mask"], [1, 0, 0])


@pytest.mark.parametrize("view_hops", [None, 1, 2, 3])
def test_observations_are_in_the_space_and_fresh(view_hops) -> None:
    env = GraphNavEnv("geometric", num_nodes=40, view_hops=view_hops, invalid_action="penalty")
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    previous = None
    for _ in range(200):
        obs, *_ = env.step(int(rng.integers(env.max_degree)))
        assert env.observation_space.contains(obs)
        mask = obs["view_mask"].astype(bool)
        adjacency = obs["view_adjacency"]
        np.testing.assert_array_equal(adjacency, adjacency.T)
        assert not adjacency[~mask].any() and not obs["view_nodes"][~mask].any()
        if previous is not None:
            for key in obs:
                assert not np.shares_memory(obs[key], previous[key])
        previous = obs


def test_big_graph_without_view_hops_raises() -> None:
    with pytest.raises(ValueError, match=r"num_nodes=100 .*max_view_nodes=64.*view_hops"):
        GraphNavEnv("geometric", num_nodes=100)
    GraphNavEnv("geometric", num_nodes=100, view_hops=2)
    GraphNavEnv("geometric", num_nodes=100, graph_seed=0, obs_mode="index")  # no view there


def test_view_must_hold_every_neighbour() -> None:
    with pytest.raises(ValueError, match=r"max_view_nodes must be .* >= max_degree \+ 1 = 11"):
        GraphNavEnv(max_view_nodes=10)
    with pytest.raises(ValueError, match="view_hops must be an integer >= 1"):
        GraphNavEnv(view_hops=0)
