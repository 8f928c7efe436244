"""Seeded random maze generation (recursive backtracker), returned as ASCII map rows."""

from __future__ import annotations

import numpy as np


def generate_maze(height: int, width: int, seed: int | None = 0) -> list[str]:
    """A perfect maze (one path between any two cells) of odd ``height`` x ``width``.

    Start is the top-left corridor cell, goal the bottom-right one; every cell of the maze is
    reachable, so the goal always is. The same seed gives the same maze.
    """
    for name, size in (("height", height), ("width", width)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise ValueError(f"maze {name} must be an odd integer >= 5, got {size!r}")
        if size < 5 or size % 2 == 0:
            raise ValueError(f"maze {name} must be an odd integer >= 5, got {size}")
    rng = np.random.default_rng(seed)
    grid = np.full((height, width), "#", dtype="<U1")
    grid[1, 1] = "."
    stack = [(1, 1)]
    steps = ((-2, 0), (0, 2), (2, 0), (0, -2))
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in steps
            if 0 < r + dr < height - 1 and 0 < c + dc < width - 1 and grid[r + dr, c + dc] == "#"
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        grid[(r + nr) // 2, (c + nc) // 2] = "."
        grid[nr, nc] = "."
        stack.append((nr, nc))
    grid[1, 1] = "S"
    grid[height - 2, width - 2] = "G"
    return ["".join(row) for row in grid]
