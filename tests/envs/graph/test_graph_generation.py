"""GraphNav graph families: connected, the requested size, degree-capped, seeded."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from envs.graph.graphnav import GraphNavEnv
from envs.graph.graphs import (
    GRAPH_FAMILIES,
    component_labels,
    default_radius,
    degree_cap_mask,
    generate_graph,
    geometric_edges,
    is_connected,
    make_graph_spec,
)
from envs.graph.layout import spectral_layout

FAMILIES = list(GRAPH_FAMILIES)
# The smallest num_nodes each family accepts with its default parameters.
SMALLEST = {"geometric": 2, "grid": 2, "watts_strogatz": 5, "barabasi_albert": 3, "tree": 2}


def draw(family: str, n: int, seed: int = 0, **kwargs):
    spec = make_graph_spec(
        family, n, kwargs.get("params"), kwargs.get("weights"), kwargs.get("max_degree", 10)
    )
    return generate_graph(spec, np.random.default_rng(seed))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n", [None, 20, 50, 300])
def test_families_are_connected_with_the_requested_size(family: str, n: int | None) -> None:
    n = n or SMALLEST[family]
    for seed in range(3):
        g = draw(family, n, seed)
        assert g.num_nodes == n
        assert is_connected(n, g.edges)
        assert np.bincount(g.edges.ravel(), minlength=n).max() <= 10
        assert (g.positions >= 0).all() and (g.positions <= 1).all()
        assert (g.weights > 0).all()
        assert (g.edges[:, 0] < g.edges[:, 1]).all()
        assert len(np.unique(g.edges, axis=0)) == len(g.edges)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_graph(family: str) -> None:
    a, b, c = draw(family, 30, 1), draw(family, 30, 1), draw(family, 30, 2)
    np.testing.assert_array_equal(a.edges, b.edges)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not (
        a.edges.shape == c.edges.shape
        and np.array_equal(a.edges, c.edges)
        and np.array_equal(a.positions, c.positions)
    )


def test_default_weights_per_family() -> None:
    geo = draw("geometric", 20)
    lengths = np.linalg.norm(
        geo.positions[geo.edges[:, 0]] - geo.positions[geo.edges[:, 1]], axis=1
    )
    np.testing.assert_allclose(geo.weights, lengths)
    for family in ("grid", "watts_strogatz", "barabasi_albert", "tree"):
        assert (draw(family, 20).weights == 1.0).all()
    rand = draw("tree", 200, weights="random")
    assert rand.weights.min() >= 1.0 and rand.weights.max() <= 5.0 and rand.weights.std() > 0.5


def test_default_geometric_radius_gives_moderate_degree_and_mostly_connected() -> None:
    rng = np.random.default_rng(0)
    for n in (20, 50):
        degrees, connected = [], 0
        for _ in range(200):
            edges = geometric_edges(rng.random((n, 2)), default_radius(n))
            degrees.append(2 * len(edges) / n)
            connected += is_connected(n, edges)
        assert 4.0 <= np.mean(degrees) <= 7.5
        assert connected / 200 > 0.5


@pytest.mark.parametrize("n", [30, 400])  # all-pairs and cell-binning paths
def test_geometric_edges_match_networkx(n: int) -> None:
    positions = np.random.default_rng(n).random((n, 2))
    radius = default_radius(n)
    g = nx.random_geometric_graph(n, radius, pos={i: positions[i] for i in range(n)})
    expected = sorted(tuple(sorted(e)) for e in g.edges())
    assert [tuple(e) for e in geometric_edges(positions, radius).tolist()] == expected


def test_grid_has_holes_lattice_positions_and_degree_at_most_four() -> None:
    g = draw("grid", 80, params={"hole_fraction": 0.2})
    assert np.bincount(g.edges.ravel()).max() <= 4
    steps = g.positions[g.edges[:, 1]] - g.positions[g.edges[:, 0]]
    lengths = np.abs(steps).sum(axis=1)
    np.testing.assert_allclose(lengths, lengths[0])  # every edge joins lattice neighbours
    cells = np.rint(g.positions / lengths[0]).astype(int)
    box = (cells.max(axis=0) + 1).prod()
    assert box - 80 >= 0.15 * box  # about a fifth of the box is holes
    full = draw("grid", 16, params={"hole_fraction": 0.0})
    assert len(full.edges) == 24  # a complete 4x4 lattice


def test_degree_cap_drops_the_heaviest_edges_first() -> None:
    edges = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]])
    weights = np.array([1.0, 5.0, 2.0, 4.0, 3.0])
    keep = degree_cap_mask(6, edges, weights, 3)
    assert keep.tolist() == [True, False, True, False, True]
    assert degree_cap_mask(6, edges, weights, 5).all()


def test_generated_graphs_respect_a_small_max_degree() -> None:
    g = draw("barabasi_albert", 100, max_degree=5)
    assert np.bincount(g.edges.ravel()).max() <= 5
    assert is_connected(100, g.edges)


def test_impossible_cap_fails_after_bounded_redraws() -> None:
    with pytest.raises(ValueError, match=r"could not draw a connected graph='tree' .*max_degree=1"):
        draw("tree", 10, max_degree=1)


def test_component_labels_match_networkx() -> None:
    g = nx.gnm_random_graph(300, 280, seed=3)
    edges = np.array(list(g.edges()))
    labels = component_labels(300, edges)
    for component in nx.connected_components(g):
        members = sorted(component)
        assert (labels[members] == members[0]).all()


def test_spectral_layout_of_big_graphs_is_finite_and_seeded() -> None:
    g = draw("tree", 500)  # above the spring-layout size: spectral power iteration
    assert np.isfinite(g.positions).all()
    assert g.positions.min() == 0.0 and g.positions.max() == 1.0
    edges = g.edges
    np.testing.assert_array_equal(spectral_layout(500, edges, 1), spectral_layout(500, edges, 1))


def test_new_graph_every_episode_unless_seeded() -> None:
    env = GraphNavEnv(num_nodes=20)
    env.reset(seed=0)
    first = env.graph.edges.copy()
    env.reset()
    assert not np.array_equal(first, env.graph.edges)
    env.reset(seed=0)
    np.testing.assert_array_equal(first, env.graph.edges)
    fixed = GraphNavEnv(num_nodes=20, graph_seed=5)
    edges = fixed.graph.edges.copy()
    fixed.reset(seed=1)
    fixed.reset(seed=2)
    np.testing.assert_array_equal(edges, fixed.graph.edges)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"graph": "hexagonal"}, r"unknown graph family 'hexagonal'; valid families: geometric"),
        ({"num_nodes": 1}, r"num_nodes must be >= 2"),
        ({"num_nodes": 2.5}, r"num_nodes must be an integer"),
        ({"graph_params": {"radius": 0.3, "k": 2}}, r"unknown graph_params \['k'\].*radius"),
        ({"graph": "tree", "graph_params": {"m": 2}}, r"valid parameters: none"),
        ({"graph_params": {"radius": -1.0}}, r"radius must be > 0"),
        ({"graph": "grid", "graph_params": {"hole_fraction": 1.0}}, r"hole_fraction"),
        ({"graph": "watts_strogatz", "num_nodes": 4}, r"k \(ring neighbours\)"),
        ({"graph": "watts_strogatz", "graph_params": {"p": 2}}, r"p \(rewiring"),
        ({"graph": "barabasi_albert", "graph_params": {"m": 0}}, r"m \(edges per new node\)"),
        ({"weights": "gaussian"}, r"unknown weights 'gaussian'; valid: euclidean, unit, random"),
        ({"max_degree": None}, r"max_degree=None takes the degree of a fixed graph"),
        ({"max_degree": 0}, r"max_degree must be an integer >= 1"),
        ({"graph_seed": 1.5}, r"graph_seed must be an integer"),
    ],
)
def test_bad_generation_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphNavEnv(**kwargs)


def test_max_degree_none_with_a_fixed_generated_graph_takes_its_degree() -> None:
    env = GraphNavEnv("barabasi_albert", num_nodes=40, graph_seed=0, max_degree=None)
    assert env.max_degree == np.bincount(env.graph.edges.ravel()).max()
    assert env.action_space.n == env.max_degree
