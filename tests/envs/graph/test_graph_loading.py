"""GraphNav with a user's own graph: networkx objects, GraphML and edge-list files, bad input."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest
from graph_cases import TRIANGLE_POS, make_graph, path_graph, triangle

from envs.graph.graphnav import GraphNavEnv


def test_labels_are_relabelled_in_sorted_order_and_kept() -> None:
    g = nx.Graph()
    g.add_edge("c", "a", weight=2.0)
    g.add_edge("a", "b", weight=1.0)
    env = GraphNavEnv(g, max_degree=None)
    assert env.node_labels == ("a", "b", "c")
    assert env.num_nodes == 3
    edges = {tuple(e): w for e, w in zip(env.graph.edges.tolist(), env.graph.weights, strict=True)}
    assert edges == {(0, 1): 1.0, (0, 2): 2.0}


def test_unsortable_labels_keep_insertion_order() -> None:
    g = nx.Graph([("x", 1), (1, (2, 3))])
    env = GraphNavEnv(g)
    assert env.node_labels == ("x", 1, (2, 3))


def test_graph_without_positions_gets_a_seeded_layout() -> None:
    g = nx.cycle_graph(8)
    a, b = GraphNavEnv(g), GraphNavEnv(g)
    np.testing.assert_array_equal(a.graph.positions, b.graph.positions)
    assert a.graph.positions.min() == 0.0 and a.graph.positions.max() == 1.0
    assert (a.graph.weights == 1.0).all()


def test_positions_outside_the_unit_square_are_scaled_keeping_aspect() -> None:
    g = make_graph({0: (10, 10), 1: (14, 10), 2: (10, 12)}, edges=[(0, 1), (0, 2)])
    env = GraphNavEnv(g, weights="euclidean")
    np.testing.assert_allclose(env.graph.positions, [[0, 0], [1, 0], [0, 0.5]])
    np.testing.assert_allclose(sorted(env.graph.weights), [0.5, 1.0])


def test_graphml_round_trip(tmp_path: Path) -> None:
    g = triangle()
    for node, (x, y) in TRIANGLE_POS.items():
        del g.nodes[node]["pos"]
        g.nodes[node]["x"], g.nodes[node]["y"] = x, y
    path = tmp_path / "triangle.graphml"
    nx.write_graphml(g, path)
    env = GraphNavEnv(str(path), start=0, goal=1)
    _, info = env.reset(seed=0)
    assert env.node_labels == (0, 1, 2)  # numeric text ids come back as ints
    assert info["optimal_cost"] == 2.0
    np.testing.assert_allclose(env.graph.positions, [TRIANGLE_POS[i] for i in range(3)])
    env = GraphNavEnv(path, start=0, goal=1)  # a pathlib.Path works too
    assert env.reset(seed=0)[1]["optimal_cost"] == 2.0


def test_graphml_pos_as_text(tmp_path: Path) -> None:
    g = path_graph(3)
    for node in g:
        x, y = g.nodes[node]["pos"]
        g.nodes[node]["pos"] = f"{x},{y}"
    path = tmp_path / "path.graphml"
    nx.write_graphml(g, path)
    np.testing.assert_allclose(GraphNavEnv(path).graph.positions[:, 0], [0, 0.5, 1])


@pytest.mark.parametrize(
    ("text", "costs"),
    [
        ("0 1\n1 2\n", [1.0, 1.0]),
        ("# a comment\n0 1 2.5\n1 2 0.5  # trailing comment\n\n", [2.5, 0.5]),
        ("0 1 {'weight': 3.0}\n1 2 {'weight': 4.0, 'color': 'red'}\n", [3.0, 4.0]),
    ],
)
def test_edge_list_formats(tmp_path: Path, text: str, costs: list[float]) -> None:
    path = tmp_path / "g.edgelist"
    path.write_text(text)
    env = GraphNavEnv(str(path), start=0, goal=2)
    assert env.node_labels == (0, 1, 2)
    assert env.reset(seed=0)[1]["optimal_cost"] == sum(costs)


def test_networkx_written_edge_lists_load(tmp_path: Path) -> None:
    g = nx.Graph()
    g.add_weighted_edges_from([("a", "b", 1.5), ("b", "c", 2.0)])
    for writer, name in (
        (nx.write_edgelist, "g.edgelist"),
        (nx.write_weighted_edgelist, "g.edges"),
    ):
        writer(g, tmp_path / name)
        env = GraphNavEnv(str(tmp_path / name), start=0, goal=2)
        assert env.node_labels == ("a", "b", "c")
        assert env.reset(seed=0)[1]["optimal_cost"] == 3.5


def test_max_degree_none_derives_it_and_a_cap_names_the_node(tmp_path: Path) -> None:
    star = nx.star_graph(12)  # node 0 has degree 12
    assert GraphNavEnv(star, max_degree=None, max_view_nodes=16).action_space.n == 12
    with pytest.raises(ValueError, match=r"node 0 has degree 12, above max_degree=10.*None"):
        GraphNavEnv(star)


def disconnected() -> nx.Graph:
    g = path_graph(3)
    g.add_node(3, pos=(0.5, 1.0))
    g.add_node(4, pos=(1.0, 1.0))
    g.add_edge(3, 4)
    return g


@pytest.mark.parametrize(
    ("graph", "kwargs", "message"),
    [
        (nx.Graph(), {}, r"graph is empty: it has no nodes"),
        (nx.empty_graph(3), {}, r"graph has no edges"),
        (nx.DiGraph([(0, 1)]), {}, r"graph is directed.*to_undirected"),
        (nx.MultiGraph([(0, 1), (0, 1)]), {}, r"multigraph"),
        (nx.Graph([(0, 1), (1, 1)]), {}, r"self-loop at node 1"),
        (make_graph({0: (0, 0), 1: (1, 0)}, {(0, 1): 0.0}), {}, r"edge \(0, 1\) has weight 0.0"),
        (make_graph({0: (0, 0), 1: (1, 0)}, {(0, 1): -2.0}), {}, r"positive finite"),
        (
            nx.Graph([("a", "b", {"weight": 1}), ("b", "c")]),
            {},
            r"edge \('b', 'c'\) has no 'weight'",
        ),
        (nx.Graph([(0, 1, {"weight": "heavy"})]), {}, r"weight 'heavy' is not a number"),
        (make_graph({0: (0, 0), 1: (0, 0)}, edges=[(0, 1)]), {"weights": "euclidean"}, r"weight 0"),
        (nx.Graph([(0, 1)]), {"num_nodes": 5}, r"num_nodes and graph_params apply to generated"),
        (disconnected(), {"start": 0, "goal": 4}, r"goal 4 cannot be reached from start 0"),
        (path_graph(3), {"start": 1, "goal": 1}, r"start and goal are the same node \(1\)"),
        (path_graph(3), {"start": 3}, r"start=3 is not a node id of this graph: ids are 0..2"),
        (path_graph(3), {"goal": "a"}, r"goal='a' is not a node id"),
        (42, {}, r"graph must be a family name .*, a networkx graph or a file path"),
    ],
)
def test_bad_user_graphs_raise(graph, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphNavEnv(graph, **kwargs)


def test_position_problems_name_the_node() -> None:
    g = make_graph({0: (0, 0), 1: (1, 0)}, edges=[(0, 1)])
    g.add_edge(1, 2)  # node 2 has no position
    with pytest.raises(ValueError, match=r"node 2 has no usable position"):
        GraphNavEnv(g)
    g.nodes[2]["pos"] = (np.nan, 0.0)
    with pytest.raises(ValueError, match=r"node 2 has a non-finite position"):
        GraphNavEnv(g)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.graphml", "<graphml><graph", r"bad.graphml' is not valid GraphML"),
        ("bad.edgelist", "0 1\n1\n", r"bad.edgelist line 2: expected 'u v \[weight\]'"),
        ("bad.edges", "0 1 heavy\n", r"bad.edges line 1: cannot read edge data 'heavy'"),
        ("bad.edges", "0 1 {'weight': \n", r"line 1: cannot read edge data"),
    ],
)
def test_files_that_do_not_parse_raise(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        GraphNavEnv(str(path))


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere.graphml' does not exist"):
        GraphNavEnv(str(tmp_path / "nowhere.graphml"))
    with pytest.raises(ValueError, match=r"unknown suffix '.gml'"):
        GraphNavEnv(tmp_path / "g.gml")
    with pytest.raises(ValueError, match=r"unknown graph family 'g.gml'.*\.graphml, \.edgelist"):
        GraphNavEnv("g.gml")


def test_disconnected_goal_allowed_only_ends_by_truncation() -> None:
    env = gym.wrappers.TimeLimit(
        GraphNavEnv(disconnected(), start=0, goal=4, allow_unreachable=True), max_episode_steps=20
    )
    _, info = env.reset(seed=0)
    assert info["optimal_cost"] == float("inf")
    ends = []
    for _ in range(20):
        _, _, term, trunc, info = env.step(0)
        ends.append((term, trunc))
        assert info["is_success"] is False and info["cost_ratio"] == float("inf")
    assert ends == [(False, False)] * 19 + [(False, True)]


def test_random_start_goal_stay_in_one_component() -> None:
    g = disconnected()
    g.add_node(5, pos=(0.0, 1.0))  # isolated: never a start or a goal
    env = GraphNavEnv(g)
    for seed in range(40):
        _, info = env.reset(seed=seed)
        assert info["optimal_cost"] < float("inf")
        assert 5 not in (env.start_node, env.goal_node)
    with pytest.raises(ValueError, match=r"start=5 has no edges"):
        env.reset(options={"start": 5})
