"""Node positions in the unit square: a graph's own, or a layout computed once per graph.

Positions feed the node features (x, y, offset and distance to the goal), the action order
(neighbours sorted by angle) and ``weights="euclidean"``, so every graph needs them. A graph
that has its own (random geometric, grid, a user's ``"pos"`` attribute) keeps them, fitted into
``[0, 1]^2``; any other graph gets a seeded layout: networkx's ``spring_layout`` up to
``SPRING_LAYOUT_MAX_NODES`` nodes (it is quadratic), a spectral layout by power iteration,
O(edges) per iteration, above that.
"""

from __future__ import annotations

import numpy as np

SPRING_LAYOUT_MAX_NODES = 100
SPECTRAL_ITERATIONS = 100


def fit_unit_square(positions: np.ndarray) -> np.ndarray:
    """Positions already inside ``[0, 1]^2`` unchanged; others shifted and scaled to fit it.

    The scale is the same on both axes (the larger extent becomes 1), so angles and ratios of
    distances are kept. Nodes that all share one position end up at the origin.
    """
    pos = np.array(positions, dtype=np.float64).reshape(-1, 2)
    if len(pos) == 0 or (pos.min() >= 0.0 and pos.max() <= 1.0):
        return pos
    return scale_to_unit_square(pos)


def scale_to_unit_square(positions: np.ndarray) -> np.ndarray:
    """Shift and scale (equally on both axes) so the positions span ``[0, 1]`` on one axis."""
    pos = np.asarray(positions, dtype=np.float64)
    low = pos.min(axis=0)
    span = float((pos.max(axis=0) - low).max())
    return (pos - low) / (span if span > 0 else 1.0)


def compute_layout(num_nodes: int, edges: np.ndarray, seed: int) -> np.ndarray:
    """(N, 2) positions in ``[0, 1]^2`` for a graph without its own; the same seed, the same."""
    if num_nodes <= SPRING_LAYOUT_MAX_NODES:
        pos = _spring_layout(num_nodes, edges, seed)
    else:
        pos = spectral_layout(num_nodes, edges, seed)
    return scale_to_unit_square(pos)


def _spring_layout(num_nodes: int, edges: np.ndarray, seed: int) -> np.ndarray:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    g.add_edges_from(edges.tolist())
    layout = nx.spring_layout(g, seed=seed)
    return np.array([layout[i] for i in range(num_nodes)], dtype=np.float64)


def spectral_layout(
    num_nodes: int, edges: np.ndarray, seed: int, iterations: int = SPECTRAL_ITERATIONS
) -> np.ndarray:
    """Power iteration towards the two smoothest Laplacian eigenvectors (no scipy needed).

    Each iteration averages every node with its neighbours' mean (lazy random walk), removes
    the constant component and orthonormalises the two coordinates, so neighbours end up
    close together. It is not run to convergence: a few smoothing passes already give a
    readable layout, and each costs O(edges).
    """
    rng = np.random.default_rng(seed)
    pos = rng.random((num_nodes, 2)) - 0.5
    u, v = edges[:, 0], edges[:, 1]
    degree = np.maximum(np.bincount(edges.ravel(), minlength=num_nodes), 1)
    for _ in range(iterations):
        total = np.empty_like(pos)
        for axis in range(2):
            col = pos[:, axis]
            total[:, axis] = np.bincount(u, weights=col[v], minlength=num_nodes) + np.bincount(
                v, weights=col[u], minlength=num_nodes
            )
        pos = 0.5 * (pos + total / degree[:, None])
        pos -= pos.mean(axis=0)
        pos[:, 0] /= np.linalg.norm(pos[:, 0]) or 1.0
        pos[:, 1] -= (pos[:, 1] @ pos[:, 0]) * pos[:, 0]
        pos[:, 1] /= np.linalg.norm(pos[:, 1]) or 1.0
    return pos
