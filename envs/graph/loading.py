"""A user's own graph for GraphNav: a networkx object, a GraphML or an edge-list file.

The graph is checked (undirected, no self-loops or parallel edges, positive finite weights,
degrees within the cap) and turned into a :class:`~envs.graph.graphs.Graph`; every error
names the node, edge, file or line at fault.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.graph.graphs import (
    GRAPH_FAMILIES,
    GRAPH_FILE_SUFFIXES,
    Graph,
    GraphSpec,
    check_weight_mode,
    edge_weights,
    generate_graph,
    make_graph_spec,
)
from envs.graph.layout import compute_layout, fit_unit_square


def is_graph_file(source: object) -> bool:
    """Whether ``source`` names a graph file (by suffix) rather than a family."""
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and source.lower().endswith(GRAPH_FILE_SUFFIXES)


def load_user_graph(
    source: Any, *, weights: str | None, max_degree: int | None, seed: int
) -> Graph:
    """A user's networkx graph, or one read from a GraphML / edge-list file, as a Graph.

    Nodes are relabelled ``0..N-1`` in sorted label order (insertion order if the labels
    do not sort); ``Graph.labels`` keeps the original labels. Positions come from a ``"pos"``
    node attribute (or ``"x"`` and ``"y"``), else a seeded layout; weights from the ``"weight"``
    edge attribute unless ``weights`` names a mode.
    """
    import networkx as nx

    where = "graph"
    if is_graph_file(source):
        where = f"graph file {os.fspath(source)!r}"
        source = read_graph_file(source)
    if not isinstance(source, nx.Graph):
        raise ValueError(
            f"graph must be a family name ({', '.join(GRAPH_FAMILIES)}), a networkx graph or "
            f"a file path ending in {', '.join(GRAPH_FILE_SUFFIXES)}; got {source!r}"
        )
    _check_graph_kind(source, where)
    labels = _ordered_labels(source)
    ids = {label: i for i, label in enumerate(labels)}
    edge_list = list(source.edges(data=True))
    for a, b, _ in edge_list:
        if a == b:
            raise ValueError(f"{where}: self-loop at node {a!r}; moves go between two nodes")
    pairs = np.array([(ids[a], ids[b]) for a, b, _ in edge_list], dtype=np.int64).reshape(-1, 2)
    pairs.sort(axis=1)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    edges, edge_list = pairs[order], [edge_list[i] for i in order.tolist()]
    positions = _user_positions(source, labels, where)
    if positions is None:
        positions = compute_layout(len(labels), edges, seed)
    mode = weights if weights is not None else ("attribute" if _has_weights(edge_list) else "unit")
    if mode == "attribute":
        w = _attribute_weights(edge_list, where)
    else:
        rng = np.random.default_rng(seed)
        w = edge_weights(check_weight_mode(mode, None), edges, positions, rng)
    graph = Graph(positions=positions, edges=edges, weights=w, labels=tuple(labels))
    check_user_graph(graph, max_degree, where)
    return graph


def _check_graph_kind(graph: Any, where: str) -> None:
    if graph.is_directed():
        raise ValueError(
            f"{where} is directed; GraphNav moves both ways along edges: pass "
            "graph.to_undirected() (or write the file with edgedefault='undirected')"
        )
    if graph.is_multigraph():
        raise ValueError(f"{where} is a multigraph; merge parallel edges first (nx.Graph(g))")
    if graph.number_of_nodes() == 0:
        raise ValueError(f"{where} is empty: it has no nodes")


def _ordered_labels(graph: Any) -> list[Hashable]:
    labels = list(graph.nodes)
    try:
        return sorted(labels)
    except TypeError:
        return labels


def _user_positions(graph: Any, labels: Sequence[Hashable], where: str) -> np.ndarray | None:
    """Positions from node attributes ``pos`` (pair or "x,y" text) or ``x`` and ``y``."""
    data = graph.nodes
    if not any("pos" in data[n] or ("x" in data[n] and "y" in data[n]) for n in labels):
        return None
    positions = np.empty((len(labels), 2))
    for i, node in enumerate(labels):
        attrs = data[node]
        try:
            if "pos" in attrs:
                pos = attrs["pos"]
                if isinstance(pos, str):
                    pos = pos.strip("()[] ").replace(",", " ").split()
                positions[i] = [float(c) for c in pos]
            else:
                positions[i] = float(attrs["x"]), float(attrs["y"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"{where}: node {node!r} has no usable position ({attrs!r}); give every node a "
                "'pos' of two numbers (or 'x' and 'y'), or none so a layout is computed"
            ) from e
    if not np.isfinite(positions).all():
        bad = labels[int(np.flatnonzero(~np.isfinite(positions).all(axis=1))[0])]
        raise ValueError(f"{where}: node {bad!r} has a non-finite position")
    return fit_unit_square(positions)


def _has_weights(edge_list: Sequence[tuple]) -> bool:
    return any("weight" in d for _, _, d in edge_list)


def _attribute_weights(edge_list: Sequence[tuple], where: str) -> np.ndarray:
    weights = np.empty(len(edge_list))
    for i, (a, b, d) in enumerate(edge_list):
        if "weight" not in d:
            raise ValueError(
                f"{where}: edge ({a!r}, {b!r}) has no 'weight' while other edges do; weight "
                "every edge, or pass weights='unit' / 'euclidean' / 'random'"
            )
        try:
            weights[i] = float(d["weight"])
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{where}: edge ({a!r}, {b!r}) weight {d['weight']!r} is not a number"
            ) from e
    return weights


def check_user_graph(graph: Graph, max_degree: int | None, where: str = "graph") -> None:
    """Edges exist, weights are positive and finite, and no node is above ``max_degree``."""
    if len(graph.edges) == 0:
        raise ValueError(f"{where} has no edges: nothing to navigate")
    bad = np.flatnonzero(~(np.isfinite(graph.weights) & (graph.weights > 0)))
    if len(bad):
        a, b = graph.edges[bad[0]]
        raise ValueError(
            f"{where}: edge ({graph.label(int(a))!r}, {graph.label(int(b))!r}) has weight "
            f"{graph.weights[bad[0]]}; edge weights must be positive finite numbers"
        )
    degree = np.bincount(graph.edges.ravel(), minlength=graph.num_nodes)
    if max_degree is not None and degree.max() > max_degree:
        node = int(degree.argmax())
        raise ValueError(
            f"{where}: node {graph.label(node)!r} has degree {degree[node]}, above "
            f"max_degree={max_degree}; pass max_degree=None to use the graph's own maximum "
            f"({degree.max()}) or a larger max_degree"
        )


def read_graph_file(path: str | os.PathLike) -> Any:
    """A networkx graph from a ``.graphml`` or edge-list (``.edgelist``/``.edges``) file."""
    import networkx as nx

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in GRAPH_FILE_SUFFIXES:
        raise ValueError(
            f"graph file {str(path)!r}: unknown suffix {suffix!r}; valid: "
            + ", ".join(GRAPH_FILE_SUFFIXES)
        )
    if not path.is_file():
        raise FileNotFoundError(f"graph file {str(path)!r} does not exist")
    if suffix == ".graphml":
        try:
            graph = nx.read_graphml(path)
        except Exception as e:  # ElementTree.ParseError, NetworkXError, KeyError, ...
            raise ValueError(f"graph file {str(path)!r} is not valid GraphML: {e}") from e
    else:
        graph = parse_edge_list(path.read_text(), str(path))
    return nx.relabel_nodes(graph, _numeric_labels(graph.nodes))


def parse_edge_list(text: str, name: str = "edge list") -> Any:
    """Lines ``u v``, ``u v weight`` or ``u v {'weight': w}`` (networkx's); ``#`` comments."""
    import networkx as nx

    graph = nx.Graph()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 2:
            raise ValueError(f"{name} line {number}: expected 'u v [weight]', got {raw.strip()!r}")
        data = _edge_data(parts[2] if len(parts) == 3 else "", name, number)
        graph.add_edge(parts[0], parts[1], **data)
    return graph


def _edge_data(text: str, name: str, number: int) -> dict[str, Any]:
    if not text:
        return {}
    try:
        if text.startswith("{"):
            data = ast.literal_eval(text)
            if not isinstance(data, dict):
                raise ValueError("not a dict")
            return data
        return {"weight": float(text)}
    except (ValueError, SyntaxError) as e:
        raise ValueError(
            f"{name} line {number}: cannot read edge data {text!r}; expected a number "
            "(the weight) or a dict such as {'weight': 2.0}"
        ) from e


def _numeric_labels(nodes: Any) -> dict[Hashable, Hashable]:
    """Map string labels to ints when every label is one (files store ids as text)."""
    labels = list(nodes)
    if labels and all(isinstance(n, str) and n.lstrip("-").isdigit() for n in labels):
        return {n: int(n) for n in labels}
    return {n: n for n in labels}


def resolve_graph(
    source: Any,
    num_nodes: int | None,
    graph_seed: int | None,
    graph_params: Mapping[str, float] | None,
    weights: str | None,
    max_degree: int | None,
    *,
    default_num_nodes: int,
) -> tuple[Graph | None, GraphSpec | None]:
    """(the graph kept for every episode or None, the spec that draws one per episode or
    None) from an env's graph arguments: a family name, a networkx graph or a file path.

    A user graph is always fixed (its layout and random weights from ``graph_seed``, 0 by
    default); a family with ``graph_seed`` is drawn once from it; a family without one gets
    a new graph per episode, which needs a fixed ``max_degree``.
    """
    if max_degree is not None and (not is_int(max_degree) or max_degree < 1):
        raise ValueError(f"max_degree must be an integer >= 1 or None, got {max_degree!r}")
    if graph_seed is not None and not is_int(graph_seed):
        raise ValueError(f"graph_seed must be an integer or None, got {graph_seed!r}")
    if not isinstance(source, str) or is_graph_file(source):
        if num_nodes is not None or graph_params is not None:
            raise ValueError(
                "num_nodes and graph_params apply to generated families; a user graph has "
                "its own nodes and edges"
            )
        seed = 0 if graph_seed is None else int(graph_seed)
        return load_user_graph(source, weights=weights, max_degree=max_degree, seed=seed), None
    n = default_num_nodes if num_nodes is None else num_nodes
    spec = make_graph_spec(source, n, graph_params, weights, max_degree)
    if graph_seed is None:
        if max_degree is None:
            raise ValueError(
                "max_degree=None takes the degree of a fixed graph; a new graph every "
                "episode needs a fixed max_degree (or pass graph_seed to fix the graph)"
            )
        return None, spec
    return generate_graph(spec, np.random.default_rng(int(graph_seed))), spec


def is_int(value: Any) -> bool:
    """An int (numpy's too), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
