"""Shortest paths for GraphNav: the optimal cost at reset and the optimal next action.

All functions read the action-ordered adjacency lists of a
:class:`~envs.graph.neighbors.NeighborTable` (``lists[i][k]``, ``weight_lists[i][k]``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np

INF = math.inf


def bidirectional_dijkstra(
    lists: Sequence[Sequence[int]],
    weight_lists: Sequence[Sequence[float]],
    source: int,
    target: int,
) -> float:
    """Cost of a cheapest path from ``source`` to ``target`` (``inf`` if there is none).

    Searches from both ends and stops when the two frontiers' smallest keys add up to the
    best meeting cost found, so nearby pairs in a huge graph cost little.
    """
    if source == target:
        return 0.0
    dist: tuple[dict[int, float], dict[int, float]] = ({source: 0.0}, {target: 0.0})
    settled: tuple[set[int], set[int]] = (set(), set())
    heaps: tuple[list, list] = ([(0.0, source)], [(0.0, target)])
    best = INF
    while heaps[0] and heaps[1]:
        if heaps[0][0][0] + heaps[1][0][0] >= best:
            break
        side = 0 if heaps[0][0][0] <= heaps[1][0][0] else 1
        d, u = heapq.heappop(heaps[side])
        if u in settled[side]:
            continue
        settled[side].add(u)
        mine, other = dist[side], dist[1 - side]
        for v, w in zip(lists[u], weight_lists[u], strict=True):
            nd = d + w
            if nd < mine.get(v, INF):
                mine[v] = nd
                heapq.heappush(heaps[side], (nd, v))
            through = other.get(v)
            if through is not None and nd + through < best:
                best = nd + through
    return best


def distances_to(
    lists: Sequence[Sequence[int]], weight_lists: Sequence[Sequence[float]], target: int
) -> np.ndarray:
    """(N,) cheapest cost from every node to ``target`` (``inf`` where unreachable)."""
    dist = [INF] * len(lists)
    dist[target] = 0.0
    heap = [(0.0, target)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in zip(lists[u], weight_lists[u], strict=True):
            nd = d + w
            if nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return np.array(dist)


def best_action(
    lists: Sequence[Sequence[int]],
    weight_lists: Sequence[Sequence[float]],
    dist_to_goal: np.ndarray,
    node: int,
) -> int:
    """The action (neighbour index) starting a cheapest path from ``node``; ties: lowest k."""
    costs = [w + dist_to_goal[v] for v, w in zip(lists[node], weight_lists[node], strict=True)]
    return int(np.argmin(costs))


def shortest_path(
    lists: Sequence[Sequence[int]],
    weight_lists: Sequence[Sequence[float]],
    dist_to_goal: np.ndarray,
    node: int,
) -> list[int]:
    """Nodes of a cheapest path from ``node`` to the goal (where ``dist_to_goal`` is 0)."""
    path = [node]
    while dist_to_goal[node] > 0:
        node = lists[node][best_action(lists, weight_lists, dist_to_goal, node)]
        path.append(node)
    return path
