"""Multi-agent gridworld mechanics: wall maps, moves with collisions, distances, frames.

Positions are (N, 2) int arrays of (row, col); the map is an (H, W) bool array of walls,
parsed from the same ASCII maps as :mod:`envs.gridworld` ('.' floor, '#' wall).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.gridworld.cells import MOVES, Cell
from envs.gridworld.layout import parse_cells
from envs.multiagent.base import agent_color
from renders.gridworld import draw_grid, paint_agent

GRID_MOVES: np.ndarray = np.array((*MOVES, (0, 0)), dtype=np.int64)
"""(d_row, d_col) per action: the single-agent gridworld's up, right, down, left, then stay."""
GRID_ACTION_NAMES = ("up", "right", "down", "left", "stay")
STAY = 4


def parse_wall_map(map_rows: Sequence[str] | str) -> np.ndarray:
    """An (H, W) bool wall mask from ASCII rows of '.' (floor) and '#' (wall).

    Raises ValueError naming the row (and column) of a ragged row, a character other than
    '.' or '#', or a floor cell that cannot be reached from the others.
    """
    _, cells = parse_cells(map_rows, allowed=(Cell.FLOOR, Cell.WALL))
    walls = cells == Cell.WALL
    free = np.argwhere(~walls)
    if len(free) == 0:
        raise ValueError("map has no floor cell: use '.' for the cells agents may stand on")
    distances = grid_distances(walls)
    first = free[0]
    unreachable = distances[_flat(first, walls.shape[1]), _flat(free, walls.shape[1])] < 0
    if unreachable.any():
        r, c = free[np.argmax(unreachable)]
        raise ValueError(
            f"map row {r}, column {c}: floor cell cut off from the floor at row {first[0]}, "
            f"column {first[1]}; every floor cell must be reachable from every other"
        )
    return walls


def _flat(positions: np.ndarray, width: int) -> np.ndarray:
    positions = np.asarray(positions)
    return positions[..., 0] * width + positions[..., 1]


def grid_distances(walls: np.ndarray) -> np.ndarray:
    """(H*W, H*W) int64 shortest-path step counts between cells (index ``row * W + col``),
    -1 where either cell is a wall or no path joins them.

    One breadth-first search from every cell at once, as array shifts.
    """
    height, width = walls.shape
    free = ~walls
    n_cells = height * width
    dist = np.full((n_cells, height, width), -1, dtype=np.int64)
    frontier = np.zeros((n_cells, height, width), dtype=bool)
    sources = np.flatnonzero(free)
    frontier[sources, sources // width, sources % width] = True
    step = 0
    while frontier.any():
        dist[frontier] = step
        grown = np.zeros_like(frontier)
        grown[:, 1:, :] |= frontier[:, :-1, :]
        grown[:, :-1, :] |= frontier[:, 1:, :]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & free & (dist < 0)
        step += 1
    return dist.reshape(n_cells, n_cells)


def move_agents(
    positions: np.ndarray, actions: np.ndarray, walls: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move every agent one step at once; return (new positions, collided).

    A move into a wall or off the map leaves that agent in place (no collision). A move is
    blocked, and counts as a collision for the agent making it, when it would end in the
    same cell as another agent (two movers into one cell, or a move into an agent that
    stays or is itself blocked) or swap cells with another agent. Blocking repeats until no
    conflict is left, so a chain of agents stops behind a blocked one; an agent may step
    into a cell its occupant leaves in the same step.
    """
    height, width = walls.shape
    proposed = positions + GRID_MOVES[actions]
    inside = (
        (proposed[:, 0] >= 0)
        & (proposed[:, 0] < height)
        & (proposed[:, 1] >= 0)
        & (proposed[:, 1] < width)
    )
    inside[inside] = ~walls[proposed[inside, 0], proposed[inside, 1]]
    proposed = np.where(inside[:, None], proposed, positions)

    current = _flat(positions, width)
    target = _flat(proposed, width)
    others = ~np.eye(len(positions), dtype=bool)
    collided = np.zeros(len(positions), dtype=bool)
    while True:
        final = np.where(collided, current, target)
        moving = final != current
        shared = ((final[:, None] == final[None, :]) & others).any(axis=1)
        swapped = (
            (final[:, None] == current[None, :]) & (final[None, :] == current[:, None]) & others
        ).any(axis=1)
        newly = moving & (shared | swapped)
        if not newly.any():
            break
        collided |= newly
    return np.where(collided[:, None], positions, proposed), collided


def draw_agents_scene(
    walls: np.ndarray,
    agent_positions: np.ndarray,
    tile_size: int,
    marked_cells: np.ndarray | None = None,
) -> np.ndarray:
    """A frame of the map with ``marked_cells`` ((K, 2), drawn as goal tiles) and agent
    ``i`` as a disc in :func:`envs.multiagent.base.agent_color` ``(i)``."""
    cells = np.where(walls, Cell.WALL, Cell.FLOOR).astype(np.int8)
    if marked_cells is not None and len(marked_cells):
        cells[marked_cells[:, 0], marked_cells[:, 1]] = Cell.GOAL
    frame = draw_grid(cells, tile_size)
    for i, (row, col) in enumerate(agent_positions):
        paint_agent(frame, int(row), int(col), tile_size, color=agent_color(i))
    return frame


__all__ = [
    "GRID_ACTION_NAMES",
    "GRID_MOVES",
    "STAY",
    "draw_agents_scene",
    "grid_distances",
    "move_agents",
    "parse_wall_map",
]
