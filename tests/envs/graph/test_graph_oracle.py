"""GraphNav oracle: Dijkstra costs, optimal actions and paths, cost_ratio on optimal play."""

from __future__ import annotations

import math

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest
from graph_cases import follow_oracle, path_graph, triangle

import envs  # noqa: F401  (registers the ids)
from envs.graph.graphnav import GraphNavEnv
from envs.graph.graphs import GraphSpec, generate_graph, make_graph_spec
from envs.graph.neighbors import build_neighbor_table
from envs.graph.oracle import bidirectional_dijkstra, distances_to, shortest_path


def table_of(graph: nx.Graph):
    return GraphNavEnv(graph, max_degree=None)._table


def test_triangle_goes_around_the_heavy_direct_edge() -> None:
    t = table_of(triangle())
    assert bidirectional_dijkstra(t.lists, t.weight_lists, 0, 1) == 2.0
    dist = distances_to(t.lists, t.weight_lists, 1)
    assert dist.tolist() == [2.0, 0.0, 1.0]
    assert shortest_path(t.lists, t.weight_lists, dist, 0) == [0, 2, 1]


def test_path_graph_costs_its_length() -> None:
    t = table_of(path_graph(6))
    assert bidirectional_dijkstra(t.lists, t.weight_lists, 0, 5) == 5.0
    assert bidirectional_dijkstra(t.lists, t.weight_lists, 4, 1) == 3.0
    assert bidirectional_dijkstra(t.lists, t.weight_lists, 2, 2) == 0.0


def test_unreachable_costs_inf() -> None:
    g = path_graph(3)
    g.add_edge(3, 4)
    g.nodes[3]["pos"], g.nodes[4]["pos"] = (0.2, 0.9), (0.8, 0.9)
    t = table_of(g)
    assert bidirectional_dijkstra(t.lists, t.weight_lists, 0, 4) == math.inf
    assert math.isinf(distances_to(t.lists, t.weight_lists, 4)[0])


@pytest.mark.parametrize("family", ["geometric", "grid", "barabasi_albert"])
def test_dijkstra_matches_networkx_on_random_weighted_graphs(family: str) -> None:
    spec = make_graph_spec(family, 60, None, "random", 10)
    graph = generate_graph(spec, np.random.default_rng(3))
    t = build_neighbor_table(graph)
    g = nx.Graph()
    pairs = zip(graph.edges.tolist(), graph.weights.tolist(), strict=True)
    g.add_weighted_edges_from((a, b, w) for (a, b), w in pairs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        s, d = rng.choice(60, size=2, replace=False).tolist()
        expected = nx.dijkstra_path_length(g, s, d)
        assert bidirectional_dijkstra(t.lists, t.weight_lists, s, d) == pytest.approx(expected)
    to_goal = distances_to(t.lists, t.weight_lists, 7)
    reference = nx.single_source_dijkstra_path_length(g, 7)
    np.testing.assert_allclose(to_goal, [reference[i] for i in range(60)])


def test_env_oracle_on_the_triangle() -> None:
    env = GraphNavEnv(triangle(), start=0, goal=1)
    _, info = env.reset(seed=0)
    assert info["optimal_cost"] == 2.0
    assert env.optimal_path() == [0, 2, 1]
    assert env.neighbors(0)[env.optimal_action()] == 2
    _, r, term, _, info = env.step(env.optimal_action())
    assert (r, term, env.agent_node) == (-1.0, False, 2)
    assert env.optimal_path() == [2, 1]
    _, r, term, _, info = env.step(env.optimal_action())
    assert (r, term) == (1.0 - 1.0, True)
    assert info == {"optimal_cost": 2.0, "cost": 2.0, "is_success": True, "cost_ratio": 1.0}
    assert env.optimal_path() == [1]
    with pytest.raises(ValueError, match="already at the goal"):
        env.optimal_action()


def test_oracle_raises_before_reset_and_when_unreachable() -> None:
    g = path_graph(3)
    g.add_node(3, pos=(0.5, 1.0))
    g.add_edge(3, 4)
    g.nodes[4]["pos"] = (1.0, 1.0)
    env = GraphNavEnv(g, start=0, goal=4, allow_unreachable=True)
    with pytest.raises(RuntimeError, match="reset"):
        env.optimal_action()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="cannot be reached from node 0"):
        env.optimal_path()


@pytest.mark.parametrize(
    "env_id", ["palaestra/GraphNav-v0", "palaestra/GraphNavGrid-v0", "palaestra/GraphNavLocal-v0"]
)
def test_following_the_oracle_is_optimal(env_id: str) -> None:
    env = gym.make(env_id)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        optimal = info["optimal_cost"]
        total, info, _ = follow_oracle(env)
        assert info["is_success"] is True
        assert info["cost_ratio"] == pytest.approx(1.0, rel=1e-12)
        assert info["cost"] == pytest.approx(optimal)
        assert total == pytest.approx(1.0 - optimal)


def test_oracle_with_random_weights_beats_hop_count() -> None:
    # With random weights the cheapest path is often not the one with fewest hops; the
    # oracle must follow cost, so its cost equals Dijkstra's for every episode.
    env = GraphNavEnv("grid", num_nodes=30, weights="random", graph_seed=4)
    for seed in range(10):
        _, info = env.reset(seed=seed)
        _, last, _ = follow_oracle(env)
        assert last["cost"] == pytest.approx(info["optimal_cost"])


def test_graph_spec_is_plain_data() -> None:
    spec = make_graph_spec("tree", 10, None, None, 10)
    assert spec == GraphSpec("tree", 10, {}, "unit", 10)
