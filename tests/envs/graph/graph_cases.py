"""Hand-made graphs shared by the GraphNav tests (a plain module: tests import it by name)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import networkx as nx
import numpy as np

# A triangle whose direct edge 0-1 is heavy: the cheapest way from 0 to 1 is via 2 (cost 2).
TRIANGLE_POS = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (0.5, 0.5)}
TRIANGLE_WEIGHTS = {(0, 1): 5.0, (0, 2): 1.0, (1, 2): 1.0}

# A comb: the path 0-1-2-3-4 along y = 0 with a tooth 5 above node 2. Weights are distinct
# so adjacency entries tell which edge they are. From node 2 the neighbours in action order
# (angle counter-clockwise from +x) are 3 (0 deg), 5 (90 deg), 1 (180 deg).
COMB_POS = {0: (0, 0), 1: (0.25, 0), 2: (0.5, 0), 3: (0.75, 0), 4: (1, 0), 5: (0.5, 0.5)}
COMB_WEIGHTS = {(0, 1): 1.0, (1, 2): 2.0, (2, 3): 3.0, (3, 4): 4.0, (2, 5): 5.0}


def make_graph(positions: dict, weights: dict | None = None, edges=None) -> nx.Graph:
    """A networkx graph with ``pos`` node attributes and (optional) ``weight`` edges."""
    g = nx.Graph()
    for node, pos in positions.items():
        g.add_node(node, pos=pos)
    if weights is not None:
        for (a, b), w in weights.items():
            g.add_edge(a, b, weight=w)
    for a, b in edges or ():
        g.add_edge(a, b)
    return g


def triangle() -> nx.Graph:
    return make_graph(TRIANGLE_POS, TRIANGLE_WEIGHTS)


def comb() -> nx.Graph:
    return make_graph(COMB_POS, COMB_WEIGHTS)


def path_graph(n: int) -> nx.Graph:
    """0-1-...-(n-1) along the x axis, unit weights."""
    return make_graph(
        {i: (i / (n - 1), 0.0) for i in range(n)}, edges=[(i, i + 1) for i in range(n - 1)]
    )


def rollout(env: gym.Env, actions: list[int], seed: int) -> list[tuple[Any, ...]]:
    """(obs, reward, terminated, truncated, info) of every step, resetting on episode end."""
    obs, info = env.reset(seed=seed)
    out: list[tuple[Any, ...]] = [(obs, 0.0, False, False, info)]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        out.append((obs, r, term, trunc, info))
        if term or trunc:
            obs, info = env.reset()
            out.append((obs, 0.0, False, False, info))
    return out


def assert_same_obs(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    else:
        assert a == b


def follow_oracle(env: gym.Env, max_steps: int = 10_000) -> tuple[float, dict[str, Any], int]:
    """Step ``optimal_action()`` until the episode ends: (return, last info, steps)."""
    total, steps = 0.0, 0
    while True:
        _, r, term, trunc, info = env.step(env.unwrapped.optimal_action())
        total += r
        steps += 1
        if term or trunc or steps >= max_steps:
            return total, info, steps
