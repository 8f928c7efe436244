"""Tile colours, door/key states and the agent on numpy-drawn gridworld frames."""

from __future__ import annotations

import numpy as np
import pytest
from render_pixels import TILE, centre

from envs.gridworld.cells import Cell
from renders.gridworld import (
    AGENT_COLOR,
    CELL_COLORS,
    GRID_LINE_COLOR,
    OPEN_DOOR_COLOR,
    cell_tiles,
    draw_grid,
    paint_agent,
)


def all_cells() -> np.ndarray:
    """Every cell type once, in a 2 x 5 grid, row-major by code."""
    return np.array([cell.value for cell in Cell], dtype=np.int8).reshape(2, 5)


def test_every_cell_type_has_its_colour_at_its_centre() -> None:
    cells = all_cells()
    frame = draw_grid(cells, TILE)
    assert frame.shape == (2 * TILE, 5 * TILE, 3)
    assert frame.dtype == np.uint8
    for (row, col), code in np.ndenumerate(cells):
        assert centre(frame, row, col) == CELL_COLORS[Cell(code)], Cell(code).name


def test_cell_colours_are_distinct() -> None:
    colours = [*CELL_COLORS.values(), OPEN_DOOR_COLOR, AGENT_COLOR]
    assert len(set(colours)) == len(colours)
    assert set(CELL_COLORS) == set(Cell)


def test_grid_lines_separate_cells() -> None:
    frame = draw_grid(np.zeros((2, 2), dtype=np.int8), TILE)
    assert tuple(frame[TILE, TILE // 2]) == GRID_LINE_COLOR  # top edge of row 1
    assert tuple(frame[TILE // 2, TILE]) == GRID_LINE_COLOR  # left edge of column 1


def test_tiny_tiles_have_no_grid_lines() -> None:
    frame = draw_grid(np.array([[Cell.GOAL, Cell.LAVA]]), tile_size=1)
    assert frame.tolist() == [[list(CELL_COLORS[Cell.GOAL]), list(CELL_COLORS[Cell.LAVA])]]


def test_open_door_and_taken_key_masks() -> None:
    cells = np.array([[Cell.DOOR, Cell.DOOR, Cell.KEY, Cell.KEY, Cell.FLOOR]], dtype=np.int8)
    opened = np.array([[True, False, False, False, True]])
    taken = np.array([[False, False, True, False, True]])
    frame = draw_grid(cells, TILE, open_doors=opened, taken_keys=taken)
    assert centre(frame, 0, 0) == OPEN_DOOR_COLOR
    assert centre(frame, 0, 1) == CELL_COLORS[Cell.DOOR]
    assert centre(frame, 0, 2) == CELL_COLORS[Cell.FLOOR]
    assert centre(frame, 0, 3) == CELL_COLORS[Cell.KEY]
    # Masks only change the cell types they are about.
    assert centre(frame, 0, 4) == CELL_COLORS[Cell.FLOOR]


def test_frames_are_fresh_and_the_tile_cache_is_read_only() -> None:
    cells = np.zeros((1, 1), dtype=np.int8)
    frame = draw_grid(cells, TILE)
    frame[:] = 0
    assert centre(draw_grid(cells, TILE), 0, 0) == CELL_COLORS[Cell.FLOOR]
    with pytest.raises(ValueError, match="read-only"):
        cell_tiles(TILE)[0, 0, 0] = 0


def test_bad_cell_code_names_its_position() -> None:
    cells = np.zeros((2, 3), dtype=np.int8)
    cells[1, 2] = 42
    with pytest.raises(ValueError, match=r"cells\[1, 2\] = 42"):
        draw_grid(cells, TILE)


def test_mask_of_the_wrong_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="open_doors has shape"):
        draw_grid(np.zeros((2, 2), dtype=np.int8), open_doors=np.zeros((3, 2), dtype=bool))


def test_agent_is_painted_at_its_cell_only() -> None:
    cells = np.zeros((3, 4), dtype=np.int8)
    frame = draw_grid(cells, TILE)
    before = frame.copy()
    paint_agent(frame, 2, 1, TILE)
    assert centre(frame, 2, 1) == AGENT_COLOR
    changed = np.argwhere((frame != before).any(axis=2))
    assert changed[:, 0].min() >= 2 * TILE and changed[:, 0].max() < 3 * TILE
    assert changed[:, 1].min() >= TILE and changed[:, 1].max() < 2 * TILE


def test_carried_key_is_marked_on_the_agent_tile() -> None:
    mark = (int(0.78 * TILE), int(0.78 * TILE))
    plain = draw_grid(np.zeros((1, 1), dtype=np.int8), TILE)
    carrying = plain.copy()
    paint_agent(plain, 0, 0, TILE)
    paint_agent(carrying, 0, 0, TILE, carrying_key=True)
    assert tuple(plain[mark]) == CELL_COLORS[Cell.FLOOR]
    assert tuple(carrying[mark]) == CELL_COLORS[Cell.KEY]
    assert centre(carrying, 0, 0) == AGENT_COLOR


def test_agent_outside_the_grid_is_rejected() -> None:
    frame = draw_grid(np.zeros((2, 2), dtype=np.int8), TILE)
    with pytest.raises(ValueError, match=r"\(2, 0\) is outside the 2x2 grid"):
        paint_agent(frame, 2, 0, TILE)
