"""Parsing and validating ASCII gridworld maps into a :class:`GridLayout`."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from envs.gridworld.cells import CHAR_TO_CELL, MOVES, Cell

# Cells a path to the goal may not cross: walls block, hazards end the episode, cliffs send
# the agent back to start.
_IMPASSABLE = (Cell.WALL, Cell.HOLE, Cell.LAVA, Cell.CLIFF)


@dataclass(frozen=True, eq=False)
class GridLayout:
    """A validated map: the static cells plus where the movable things (keys, doors) are."""

    rows: tuple[str, ...]
    cells: np.ndarray  # (height, width) int8 array of Cell codes
    start: tuple[int, int]
    keys: tuple[tuple[int, int], ...]
    doors: tuple[tuple[int, int], ...]

    @property
    def height(self) -> int:
        return self.cells.shape[0]

    @property
    def width(self) -> int:
        return self.cells.shape[1]

    @property
    def goals(self) -> tuple[tuple[int, int], ...]:
        return tuple(map(tuple, np.argwhere(self.cells == Cell.GOAL).tolist()))

    @property
    def has_items(self) -> bool:
        """True when the map has keys or doors (and so pickup/toggle actions)."""
        return bool(self.keys or self.doors)


def parse_map(map_rows: Sequence[str] | str) -> GridLayout:
    """Turn ASCII rows (or one newline-separated string) into a validated layout.

    Raises ValueError naming the row and column of the first problem: ragged rows, an unknown
    character, a second start; or the map-level problem: no start, no goal, goal unreachable.
    """
    rows, cells = parse_cells(map_rows)
    starts = _positions(cells, Cell.START)
    if not starts:
        raise ValueError("map has no start: put one 'S' where episodes begin")
    if len(starts) > 1:
        (r0, c0), (r, c) = starts[:2]
        raise ValueError(
            f"map row {r}, column {c}: a second start 'S' "
            f"(the first is at row {r0}, column {c0}); a map has one"
        )
    if not (cells == Cell.GOAL).any():
        raise ValueError("map has no goal: put at least one 'G'")
    layout = GridLayout(
        rows=tuple(rows),
        cells=cells,
        start=starts[0],
        keys=_positions(cells, Cell.KEY),
        doors=_positions(cells, Cell.DOOR),
    )
    _check_goal_reachable(layout)
    return layout


def parse_cells(
    map_rows: Sequence[str] | str, allowed: Collection[Cell] = tuple(Cell)
) -> tuple[list[str], np.ndarray]:
    """The rows and their (height, width) int8 array of Cell codes, with no rule about
    which cells a map must have; raises ValueError naming the row (and column) of a ragged
    row or a character that is not one of the ``allowed`` cells."""
    chars = {char: cell for char, cell in CHAR_TO_CELL.items() if cell in allowed}
    rows = _as_rows(map_rows)
    width = len(rows[0])
    cells = np.empty((len(rows), width), dtype=np.int8)
    for r, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"map row {r} has {len(row)} columns, expected {width} (the width of row 0); "
                "all rows must have the same length"
            )
        for c, char in enumerate(row):
            cell = chars.get(char)
            if cell is None:
                raise ValueError(
                    f"map row {r}, column {c}: unknown character {char!r}; valid characters: "
                    + " ".join(repr(k) for k in chars)
                )
            cells[r, c] = cell
    return rows, cells


def _as_rows(map_rows: Sequence[str] | str) -> list[str]:
    if isinstance(map_rows, str):
        map_rows = map_rows.strip("\n").split("\n")
    rows = list(map_rows)
    if not rows or not rows[0]:
        raise ValueError("map is empty: give a list of equal-length strings, one per row")
    for r, row in enumerate(rows):
        if not isinstance(row, str):
            raise ValueError(f"map row {r} is a {type(row).__name__}, expected a string")
    return rows


def _positions(cells: np.ndarray, cell: Cell) -> tuple[tuple[int, int], ...]:
    return tuple((int(r), int(c)) for r, c in np.argwhere(cells == cell))


def reachable(layout: GridLayout, doors_open: bool) -> np.ndarray:
    """Boolean (H, W) mask of cells reachable from start by BFS (wind and ice ignored)."""
    blocked = np.isin(layout.cells, _IMPASSABLE)
    if not doors_open:
        blocked |= layout.cells == Cell.DOOR
    seen = np.zeros_like(blocked)
    seen[layout.start] = True
    frontier = deque([layout.start])
    h, w = blocked.shape
    while frontier:
        r, c = frontier.popleft()
        if layout.cells[r, c] == Cell.GOAL:
            continue  # the episode ends there
        for dr, dc in MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < h and 0 <= nc < w and not seen[nr, nc] and not blocked[nr, nc]:
                seen[nr, nc] = True
                frontier.append((nr, nc))
    return seen


def _check_goal_reachable(layout: GridLayout) -> None:
    seen = reachable(layout, doors_open=False)
    key_reachable = any(seen[k] for k in layout.keys)
    if key_reachable and layout.doors:
        seen = reachable(layout, doors_open=True)
    if not any(seen[g] for g in layout.goals):
        gr, gc = layout.goals[0]
        sr, sc = layout.start
        raise ValueError(
            f"map row {gr}, column {gc}: goal unreachable from the start at row {sr}, "
            f"column {sc} (walls, holes, lava, cliffs or locked doors without a key block "
            "every path)"
        )
