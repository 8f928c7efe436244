"""Graphs for GraphNav: the :class:`Graph` record and the generated families.

Everything ends up as a :class:`Graph`: nodes ``0..N-1`` with positions in ``[0, 1]^2``, an
undirected edge array and one positive weight per edge. Generators draw from a numpy
``Generator`` only, so a graph is a pure function of its seed. A user's own graph is read
and checked by :mod:`envs.graph.loading`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.graph.layout import compute_layout, fit_unit_square

# family -> its tunable parameters (``graph_params``) with their defaults; None = derived.
GRAPH_FAMILIES: dict[str, dict[str, float | None]] = {
    "geometric": {"radius": None},
    "grid": {"hole_fraction": 0.2},
    "watts_strogatz": {"k": 4, "p": 0.1},
    "barabasi_albert": {"m": 2},
    "tree": {},
}
WEIGHT_MODES = ("euclidean", "unit", "random")
RANDOM_WEIGHT_RANGE = (1.0, 5.0)
GRAPH_FILE_SUFFIXES = (".graphml", ".edgelist", ".edges")
# Average degree of the default geometric graph is about this times ln(num_nodes) before the
# unit-square border thins it: measured 4.8 at 20 nodes (55 % of draws connected) and 7.1 at
# 50 nodes (73 % connected).
GEOMETRIC_DEGREE_FACTOR = 2.3
# Geometric graphs up to this size find their edges by comparing all pairs of points.
ALL_PAIRS_MAX_NODES = 256
# Generated graphs that come out disconnected are drawn again, at most this many times.
MAX_DRAWS = 100


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected weighted graph on nodes ``0..N-1`` with positions in the unit square."""

    positions: np.ndarray  # (N, 2) float64 in [0, 1]^2
    edges: np.ndarray  # (E, 2) int64, u < v, no duplicates
    weights: np.ndarray  # (E,) float64, > 0
    labels: tuple[Hashable, ...] | None = None  # a user graph's own node labels, by id

    @property
    def num_nodes(self) -> int:
        return len(self.positions)

    def label(self, node: int) -> Hashable:
        """The user's label of a node (the id itself for generated graphs)."""
        return node if self.labels is None else self.labels[node]


@dataclass(frozen=True)
class GraphSpec:
    """What to generate: a family, its size and parameters, weights and the degree cap."""

    family: str
    num_nodes: int
    params: Mapping[str, float]
    weights: str
    max_degree: int | None


# ---------------------------------------------------------------- generated families
def make_graph_spec(
    family: str,
    num_nodes: int,
    params: Mapping[str, float] | None,
    weights: str | None,
    max_degree: int | None,
) -> GraphSpec:
    """Check the arguments of a generated family and fill in the defaults."""
    if family not in GRAPH_FAMILIES:
        raise ValueError(
            f"unknown graph family {family!r}; valid families: {', '.join(GRAPH_FAMILIES)} "
            f"(or a networkx graph, or a file path ending in {', '.join(GRAPH_FILE_SUFFIXES)})"
        )
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
        raise ValueError(f"num_nodes must be an integer >= 2, got {num_nodes!r}")
    if num_nodes < 2:
        raise ValueError(f"num_nodes must be >= 2 (a start and a distinct goal), got {num_nodes}")
    defaults = GRAPH_FAMILIES[family]
    unknown = sorted(set(params or {}) - set(defaults))
    if unknown:
        valid = ", ".join(defaults) if defaults else "none"
        raise ValueError(
            f"unknown graph_params {unknown} for graph={family!r}; valid parameters: {valid}"
        )
    merged = {**defaults, **(params or {})}
    if family == "geometric" and merged["radius"] is None:
        merged["radius"] = default_radius(int(num_nodes))
    _check_family_params(family, int(num_nodes), merged)
    return GraphSpec(
        family=family,
        num_nodes=int(num_nodes),
        params=merged,
        weights=check_weight_mode(weights, family),
        max_degree=max_degree,
    )


def default_radius(num_nodes: int) -> float:
    """Connection radius of the default geometric graph: sqrt(c ln n / (pi n)), c = 2.3.

    A node then has about ``c ln n`` neighbours in expectation (fewer near the border), just
    above the ``ln n`` connectivity threshold of random geometric graphs.
    """
    n = max(num_nodes, 2)
    return math.sqrt(GEOMETRIC_DEGREE_FACTOR * math.log(n) / (math.pi * n))


def _check_family_params(family: str, n: int, p: Mapping[str, Any]) -> None:
    def fail(text: str) -> None:
        raise ValueError(f"graph={family!r}, num_nodes={n}: {text}")

    if family == "geometric" and not p["radius"] > 0:
        fail(f"radius must be > 0, got {p['radius']}")
    if family == "grid" and not 0 <= p["hole_fraction"] < 1:
        fail(f"hole_fraction must be in [0, 1), got {p['hole_fraction']}")
    if family == "watts_strogatz":
        if not 2 <= p["k"] < n or int(p["k"]) != p["k"]:
            fail(f"k (ring neighbours) must be an integer in [2, num_nodes), got {p['k']}")
        if not 0 <= p["p"] <= 1:
            fail(f"p (rewiring probability) must be in [0, 1], got {p['p']}")
    if family == "barabasi_albert" and (not 1 <= p["m"] < n or int(p["m"]) != p["m"]):
        fail(f"m (edges per new node) must be an integer in [1, num_nodes), got {p['m']}")


def check_weight_mode(weights: str | None, family: str | None) -> str:
    """The weight mode to use: the one given, else the family's default."""
    if weights is None:
        return "euclidean" if family == "geometric" else "unit"
    if weights not in WEIGHT_MODES:
        raise ValueError(f"unknown weights {weights!r}; valid: {', '.join(WEIGHT_MODES)}")
    return weights


def generate_graph(spec: GraphSpec, rng: np.random.Generator) -> Graph:
    """Draw a connected graph of ``spec``; disconnected draws are redrawn from the same rng.

    Nodes above ``spec.max_degree`` lose their heaviest edges first (among equal weights,
    the edge whose endpoints have the most edges); a draw that this disconnects is redrawn.
    """
    n = spec.num_nodes
    for _ in range(MAX_DRAWS):
        edges, positions = _DRAWERS[spec.family](n, spec.params, rng)
        if positions is None and spec.weights == "euclidean":
            positions = compute_layout(n, edges, _layout_seed(rng))
        if positions is not None:
            positions = fit_unit_square(positions)
        weights = edge_weights(spec.weights, edges, positions, rng)
        if spec.max_degree is not None:
            keep = degree_cap_mask(n, edges, weights, spec.max_degree)
            edges, weights = edges[keep], weights[keep]
        if is_connected(n, edges):
            if positions is None:
                positions = compute_layout(n, edges, _layout_seed(rng))
            return Graph(positions=positions, edges=edges, weights=weights)
    raise ValueError(
        f"could not draw a connected graph={spec.family!r} with num_nodes={n} and "
        f"max_degree={spec.max_degree} in {MAX_DRAWS} draws; raise max_degree or change "
        f"graph_params (now {dict(spec.params)})"
    )


def _layout_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _draw_geometric(
    n: int, params: Mapping[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    positions = rng.random((n, 2))
    return geometric_edges(positions, float(params["radius"])), positions


def geometric_edges(positions: np.ndarray, radius: float) -> np.ndarray:
    """Pairs of points in the unit square at most ``radius`` apart, as (E, 2) with u < v.

    The same graph as ``networkx.random_geometric_graph``. Small graphs compare all pairs;
    bigger ones bin points into cells of side >= radius and compare each cell with itself
    and four neighbours, so it is O(n) for a fixed expected degree and needs no scipy.
    """
    if len(positions) <= ALL_PAIRS_MAX_NODES:
        d2 = ((positions[:, None, :] - positions[None, :, :]) ** 2).sum(axis=-1)
        return np.argwhere(np.triu(d2 <= radius * radius, k=1))
    side = max(1, int(1.0 / radius))
    cell_xy = np.minimum((positions * side).astype(np.int64), side - 1)
    cell = cell_xy[:, 0] * side + cell_xy[:, 1]
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=side * side)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    found = []
    for dx, dy in ((0, 0), (1, -1), (1, 0), (1, 1), (0, 1)):
        nx_, ny_ = cell_xy[:, 0] + dx, cell_xy[:, 1] + dy
        i = np.flatnonzero((nx_ >= 0) & (nx_ < side) & (ny_ >= 0) & (ny_ < side))
        other = nx_[i] * side + ny_[i]
        count = counts[other]
        ii = np.repeat(i, count)
        offset = np.arange(len(ii)) - np.repeat(np.cumsum(count) - count, count)
        jj = order[np.repeat(starts[other], count) + offset]
        keep = (ii < jj) if (dx, dy) == (0, 0) else np.ones(len(ii), dtype=bool)
        keep &= ((positions[ii] - positions[jj]) ** 2).sum(axis=1) <= radius * radius
        found.append(np.stack([ii[keep], jj[keep]], axis=1))
    return canonical_edges(np.concatenate(found))


def _draw_grid(
    n: int, params: Mapping[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A rows x cols lattice with ``hole_fraction`` of its cells removed, connected by design.

    Holes are leaves of a random spanning tree of the lattice (peeled again while more are
    needed), so the cells left always stay connected and no redraw is needed.
    """
    target = n / (1.0 - float(params["hole_fraction"]))
    rows = max(1, round(math.sqrt(target)))
    cols = max(1, math.ceil(target / rows))
    cell_id = np.arange(rows * cols).reshape(rows, cols)
    lattice = np.concatenate(
        [
            np.stack([cell_id[:, :-1].ravel(), cell_id[:, 1:].ravel()], axis=1),
            np.stack([cell_id[:-1].ravel(), cell_id[1:].ravel()], axis=1),
        ]
    )
    kept = _peel_spanning_tree_leaves(rows * cols, lattice, rows * cols - n, rng)
    new_id = np.full(rows * cols, -1, dtype=np.int64)
    new_id[kept] = np.arange(n)
    both = (new_id[lattice[:, 0]] >= 0) & (new_id[lattice[:, 1]] >= 0)
    edges = canonical_edges(new_id[lattice[both]])
    row, col = np.divmod(kept, cols)
    return edges, np.stack([col, row], axis=1).astype(np.float64)


def _peel_spanning_tree_leaves(
    num_cells: int, lattice: np.ndarray, holes: int, rng: np.random.Generator
) -> np.ndarray:
    """Ids of the cells left after removing ``holes`` leaves of a random spanning tree."""
    tree = random_spanning_tree(num_cells, lattice, rng)
    alive = np.ones(num_cells, dtype=bool)
    tree_degree = np.bincount(tree.ravel(), minlength=num_cells)
    while holes > 0:
        leaves = np.flatnonzero(alive & (tree_degree == 1))
        chosen = rng.choice(leaves, size=min(holes, len(leaves)), replace=False)
        removed = np.zeros(num_cells, dtype=bool)
        removed[chosen] = True
        alive[chosen] = False
        live_edge = alive[tree[:, 0]] | alive[tree[:, 1]]
        hit = live_edge & (removed[tree[:, 0]] | removed[tree[:, 1]])
        tree_degree -= np.bincount(tree[hit].ravel(), minlength=num_cells)
        tree = tree[live_edge & ~hit]
        holes -= len(chosen)
    return np.flatnonzero(alive)


def random_spanning_tree(num_nodes: int, edges: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Kruskal's algorithm over the edges in random order: (num_nodes - 1, 2) tree edges."""
    parent = list(range(num_nodes))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    chosen = []
    for e in rng.permutation(len(edges)).tolist():
        u, v = int(edges[e, 0]), int(edges[e, 1])
        ru, rv = root(u), root(v)
        if ru != rv:
            parent[ru] = rv
            chosen.append(e)
    return edges[np.array(chosen, dtype=np.int64)]


def _networkx_drawer(family: str):
    def draw(
        n: int, params: Mapping[str, Any], rng: np.random.Generator
    ) -> tuple[np.ndarray, None]:
        import networkx as nx

        seed = int(rng.integers(2**31))
        if family == "watts_strogatz":
            g = nx.watts_strogatz_graph(n, int(params["k"]), float(params["p"]), seed=seed)
        elif family == "barabasi_albert":
            g = nx.barabasi_albert_graph(n, int(params["m"]), seed=seed)
        else:
            g = nx.random_labeled_tree(n, seed=seed)
        return canonical_edges(np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)), None

    return draw


_DRAWERS = {
    "geometric": _draw_geometric,
    "grid": _draw_grid,
    "watts_strogatz": _networkx_drawer("watts_strogatz"),
    "barabasi_albert": _networkx_drawer("barabasi_albert"),
    "tree": _networkx_drawer("tree"),
}


# ---------------------------------------------------------------- shared edge helpers
def canonical_edges(edges: np.ndarray) -> np.ndarray:
    """(E, 2) int64 with u < v in each row, rows sorted: one order for a given edge set."""
    edges = np.sort(np.asarray(edges, dtype=np.int64).reshape(-1, 2), axis=1)
    span = int(edges.max()) + 1 if len(edges) else 1
    return edges[np.argsort(edges[:, 0] * span + edges[:, 1], kind="stable")]


def max_edge_weight(mode: str) -> float:
    """The largest weight a generated graph can have under ``mode``."""
    return {"unit": 1.0, "random": RANDOM_WEIGHT_RANGE[1], "euclidean": math.sqrt(2.0)}[mode]


def edge_weights(
    mode: str, edges: np.ndarray, positions: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Per-edge weights: ``unit`` 1, ``euclidean`` length, ``random`` uniform in [1, 5]."""
    if mode == "unit":
        return np.ones(len(edges))
    if mode == "random":
        return rng.uniform(*RANDOM_WEIGHT_RANGE, size=len(edges))
    assert positions is not None, "euclidean weights need positions"
    return np.linalg.norm(positions[edges[:, 0]] - positions[edges[:, 1]], axis=1)


def degree_cap_mask(
    num_nodes: int, edges: np.ndarray, weights: np.ndarray, max_degree: int
) -> np.ndarray:
    """Which edges to keep so no node has more than ``max_degree``: heaviest dropped first."""
    degree = np.bincount(edges.ravel(), minlength=num_nodes)
    keep = np.ones(len(edges), dtype=bool)
    if len(edges) == 0 or degree.max() <= max_degree:
        return keep
    u, v = edges[:, 0], edges[:, 1]
    candidates = np.flatnonzero((degree[u] > max_degree) | (degree[v] > max_degree))
    busy = degree[u] + degree[v]
    order = candidates[np.lexsort((candidates, -busy[candidates], -weights[candidates]))]
    left = degree.tolist()
    for e, a, b in zip(order.tolist(), u[order].tolist(), v[order].tolist(), strict=True):
        if left[a] > max_degree or left[b] > max_degree:
            keep[e] = False
            left[a] -= 1
            left[b] -= 1
    return keep


def component_labels(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Per node, the smallest node id of its connected component (vectorised union-find)."""
    parent = np.arange(num_nodes)
    u, v = edges[:, 0], edges[:, 1]
    while True:
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            return parent
        low, high = np.minimum(pu, pv)[differ], np.maximum(pu, pv)[differ]
        np.minimum.at(parent, high, low)
        while True:  # point every node straight at its root again
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def is_connected(num_nodes: int, edges: np.ndarray) -> bool:
    return bool((component_labels(num_nodes, edges) == 0).all())
