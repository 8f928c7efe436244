"""Neighbours in action order: action ``k`` at a node moves to its ``k``-th neighbour.

Neighbours of a node are sorted by the angle of ``pos[nbr] - pos[node]``, counter-clockwise
from +x, ties by node id. The table is built once per graph in CSR form (numpy) and as plain
Python lists, which the per-step code reads: indexing a list is several times faster than
indexing a numpy scalar, and neither depends on the size of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.graph.graphs import Graph, component_labels


@dataclass(frozen=True, eq=False)
class NeighborTable:
    """The graph's adjacency in action order, plus its connected components."""

    indptr: np.ndarray  # (N + 1,) int64: node i's neighbours are neighbors[indptr[i]:indptr[i+1]]
    neighbors: np.ndarray  # (2E,) int64
    weights: np.ndarray  # (2E,) float64, aligned with neighbors
    lists: list[list[int]]  # lists[i][k]: node i's k-th neighbour
    weight_lists: list[list[float]]  # weight_lists[i][k]: weight of that edge
    component: np.ndarray  # (N,) int64: smallest node id of each node's component

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def component_members(self, node: int) -> np.ndarray:
        """Node ids of ``node``'s connected component, ascending."""
        return np.flatnonzero(self.component == self.component[node])


def build_neighbor_table(graph: Graph) -> NeighborTable:
    """Sort every node's neighbours by angle (CCW from +x), ties by id; one CSR for all."""
    n = graph.num_nodes
    src = np.concatenate([graph.edges[:, 0], graph.edges[:, 1]])
    dst = np.concatenate([graph.edges[:, 1], graph.edges[:, 0]])
    weights = np.concatenate([graph.weights, graph.weights])
    offset = graph.positions[dst] - graph.positions[src]
    angle = np.mod(np.arctan2(offset[:, 1], offset[:, 0]), 2 * np.pi)
    order = np.lexsort((dst, angle, src))
    src, dst, weights = src[order], dst[order], weights[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return NeighborTable(
        indptr=indptr,
        neighbors=dst,
        weights=weights,
        lists=_split(dst.tolist(), indptr),
        weight_lists=_split(weights.tolist(), indptr),
        component=component_labels(n, graph.edges),
    )


def _split(flat: list, indptr: np.ndarray) -> list[list]:
    bounds = indptr.tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
