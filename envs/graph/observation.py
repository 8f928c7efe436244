"""GraphNav observations: per-node features, the neighbour rows and the local view.

The ``dict`` observation (a GNN encoder is written against it, so its layout is fixed)::

    F = NODE_FEATURES = 7 per node, float32: x, y, goal_dx, goal_dy, goal_dist, is_goal, visited
    "node"           (F,)     the current node          "goal"          (F,)    the goal node
    "neighbors"      (D, F)   row k = action k's node    "edge_weights"  (D,)    its edge weight
    "view_nodes"     (M, F)   row 0 current node, rows 1..deg its neighbours in action order,
                              then BFS order up to view_hops hops, truncated at M rows
    "view_adjacency" (M, M)   symmetric edge weights among view rows, 0 = no edge
    "view_mask"      (M,)     1 for rows that hold a node   "action_mask" (D,) 1 = action allowed

Rows past the end are zeros. Features of every node are kept in one per-episode table with an
extra all-zero row at index N, so padded index arrays gather zeros for empty rows in the
same numpy call that gathers the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from envs.graph.neighbors import NeighborTable

NODE_FEATURES = 7
FEATURE_NAMES = ("x", "y", "goal_dx", "goal_dy", "goal_dist", "is_goal", "visited")
X, Y, GOAL_DX, GOAL_DY, GOAL_DIST, IS_GOAL, VISITED = range(NODE_FEATURES)

NODE_KEY = "node"
GOAL_KEY = "goal"
NEIGHBORS_KEY = "neighbors"
EDGE_WEIGHTS_KEY = "edge_weights"
VIEW_NODES_KEY = "view_nodes"
VIEW_ADJACENCY_KEY = "view_adjacency"
VIEW_MASK_KEY = "view_mask"
ACTION_MASK_KEY = "action_mask"
OBS_KEYS = (
    NODE_KEY,
    GOAL_KEY,
    NEIGHBORS_KEY,
    EDGE_WEIGHTS_KEY,
    VIEW_NODES_KEY,
    VIEW_ADJACENCY_KEY,
    VIEW_MASK_KEY,
    ACTION_MASK_KEY,
)
OBS_MODES = ("dict", "index")

# Bounds of each feature: positions lie in the unit square, so offsets in [-1, 1] and
# distances in [0, sqrt(2)].
_FEATURE_LOW = np.array([0, 0, -1, -1, 0, 0, 0], dtype=np.float32)
_FEATURE_HIGH = np.array([1, 1, 1, 1, np.sqrt(2.0), 1, 1], dtype=np.float32)
# Per-node views are cached when the whole graph fits in a view and the cache stays this small.
VIEW_CACHE_BYTES = 32 * 2**20


def dict_observation_space(max_degree: int, max_view_nodes: int, max_weight: float) -> spaces.Dict:
    """The ``dict`` layout; edge weights are bounded by ``max_weight`` (the largest possible)."""
    d, m = max_degree, max_view_nodes

    def features(rows: int | None) -> spaces.Box:
        shape = (NODE_FEATURES,) if rows is None else (rows, NODE_FEATURES)
        return spaces.Box(
            np.broadcast_to(_FEATURE_LOW, shape), np.broadcast_to(_FEATURE_HIGH, shape)
        )

    return spaces.Dict(
        {
            NODE_KEY: features(None),
            GOAL_KEY: features(None),
            NEIGHBORS_KEY: features(d),
            EDGE_WEIGHTS_KEY: spaces.Box(0.0, max_weight, (d,), dtype=np.float32),
            VIEW_NODES_KEY: features(m),
            VIEW_ADJACENCY_KEY: spaces.Box(0.0, max_weight, (m, m), dtype=np.float32),
            VIEW_MASK_KEY: spaces.MultiBinary(m),
            ACTION_MASK_KEY: spaces.MultiBinary(d),
        }
    )


def index_observation_space(num_nodes: int, goal_fixed: bool) -> spaces.Discrete:
    """``Discrete(N)`` (the node) when the goal is fixed, else ``Discrete(N * N)``."""
    return spaces.Discrete(num_nodes if goal_fixed else num_nodes * num_nodes)


def feature_table(positions: np.ndarray, goal: int) -> np.ndarray:
    """(N + 1, F) float32 features of every node for this goal, nothing visited; row N zeros."""
    n = len(positions)
    table = np.zeros((n + 1, NODE_FEATURES), dtype=np.float32)
    offset = positions[goal] - positions
    table[:n, X : Y + 1] = positions
    table[:n, GOAL_DX : GOAL_DY + 1] = offset
    table[:n, GOAL_DIST] = np.hypot(offset[:, 0], offset[:, 1])
    table[goal, IS_GOAL] = 1.0
    return table


def bfs_view_order(
    lists: Sequence[Sequence[int]], node: int, hops: int | None, limit: int
) -> list[int]:
    """At most ``limit`` nodes within ``hops`` hops of ``node`` (None: no limit), BFS order.

    Neighbours are expanded in action order, so row 0 is ``node`` and rows ``1..deg`` its
    neighbours in action order.
    """
    order = [node]
    seen = {node}
    frontier = [node]
    depth = 0
    while frontier and (hops is None or depth < hops):
        reached = []
        for u in frontier:
            for v in lists[u]:
                if v not in seen:
                    seen.add(v)
                    order.append(v)
                    if len(order) == limit:
                        return order
                    reached.append(v)
        frontier = reached
        depth += 1
    return order


def view_adjacency(
    order: Sequence[int], table: NeighborTable, row_of: np.ndarray, size: int
) -> np.ndarray:
    """(size, size) float32 weights of the edges among the view rows (symmetric).

    ``row_of`` is an (N,) scratch array of -1s; it is used to look up a node's row and is
    left all -1 again. Everything is one batch of numpy gathers over the view nodes' CSR
    rows, so the cost follows the number of view edges, not the graph.
    """
    ids = np.asarray(order, dtype=np.int64)
    starts = table.indptr[ids]
    counts = table.indptr[ids + 1] - starts
    rows = np.repeat(np.arange(len(ids)), counts)
    flat = np.arange(len(rows)) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    row_of[ids] = np.arange(len(ids))
    cols = row_of[table.neighbors[flat]]
    row_of[ids] = -1
    inside = cols >= 0
    adjacency = np.zeros((size, size), dtype=np.float32)
    adjacency[rows[inside], cols[inside]] = table.weights[flat[inside]]
    return adjacency


class DictObserver:
    """Builds ``dict`` observations for one graph in O(degree + view size) per call.

    Per-node rows that do not depend on the goal (neighbour ids, edge weights, action mask)
    are precomputed as (N, D) tables. When the whole graph fits in a view, each node's view
    (order, adjacency, mask) is computed on first use and kept.
    """

    def __init__(
        self, table: NeighborTable, max_degree: int, max_view_nodes: int, view_hops: int | None
    ) -> None:
        n, d, m = table.num_nodes, max_degree, max_view_nodes
        self._table = table
        self._max_view_nodes = m
        self._view_hops = view_hops
        degree = table.degree
        row = np.repeat(np.arange(n), degree)
        col = np.arange(len(table.neighbors)) - np.repeat(table.indptr[:-1], degree)
        self._neighbor_index = np.full((n, d), n, dtype=np.int64)  # n: the all-zero feature row
        self._neighbor_index[row, col] = table.neighbors
        self._edge_weights = np.zeros((n, d), dtype=np.float32)
        self._edge_weights[row, col] = table.weights
        self._action_mask = (self._neighbor_index < n).astype(np.int8)
        self._row_of = np.full(n, -1, dtype=np.int64)  # scratch for view_adjacency
        cacheable = n <= m and n * m * m * 4 <= VIEW_CACHE_BYTES
        self._view_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = (
            {} if cacheable else None
        )

    def observe(self, features: np.ndarray, node: int, goal: int) -> dict[str, np.ndarray]:
        """The observation at ``node`` given this episode's feature table (see feature_table)."""
        ids, adjacency, mask = self.view(node)
        return {
            NODE_KEY: features[node].copy(),
            GOAL_KEY: features[goal].copy(),
            NEIGHBORS_KEY: features[self._neighbor_index[node]],
            EDGE_WEIGHTS_KEY: self._edge_weights[node].copy(),
            VIEW_NODES_KEY: features[ids],
            VIEW_ADJACENCY_KEY: adjacency,
            VIEW_MASK_KEY: mask,
            ACTION_MASK_KEY: self._action_mask[node].copy(),
        }

    def view(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(M,) node ids padded with N, (M, M) adjacency and (M,) mask of ``node``'s view.

        The adjacency and mask are fresh arrays the caller may keep.
        """
        cache = self._view_cache
        if cache is None:
            return self._compute_view(node)
        entry = cache.get(node)
        if entry is None:
            entry = cache[node] = self._compute_view(node)
        ids, adjacency, mask = entry
        return ids, adjacency.copy(), mask.copy()

    def _compute_view(self, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t, m = self._table, self._max_view_nodes
        order = bfs_view_order(t.lists, node, self._view_hops, m)
        ids = np.full(m, t.num_nodes, dtype=np.int64)
        ids[: len(order)] = order
        mask = np.zeros(m, dtype=np.int8)
        mask[: len(order)] = 1
        return ids, view_adjacency(order, t, self._row_of, m), mask
