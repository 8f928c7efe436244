"""Gridworld frames drawn with numpy alone.

The env draws a frame on every step in its ``"rgb"`` observation mode, so this module never
imports pygame and never loops over cells in Python: one tile image per cell type is built
once per tile size, and a frame is those tiles gathered by cell code and laid side by side.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from envs.gridworld.cells import Cell
from renders.raster import (
    RGB,
    check_cell_array,
    disc_mask,
    grid_shape,
    rect_mask,
)

CELL_COLORS: dict[Cell, RGB] = {
    Cell.FLOOR: (236, 236, 236),
    Cell.WALL: (84, 84, 84),
    Cell.START: (208, 198, 240),
    Cell.GOAL: (56, 176, 72),
    Cell.HOLE: (18, 24, 64),
    Cell.LAVA: (240, 118, 28),
    Cell.ICE: (176, 234, 246),
    Cell.CLIFF: (150, 98, 56),
    Cell.KEY: (242, 200, 24),
    Cell.DOOR: (112, 66, 26),
}
"""Colour at the centre of each cell type's tile (a key is drawn on floor, in key colour)."""

OPEN_DOOR_COLOR: RGB = (214, 178, 126)
AGENT_COLOR: RGB = (214, 36, 36)
GRID_LINE_COLOR: RGB = (168, 168, 168)
DOOR_FRAME_COLOR: RGB = (64, 36, 12)

# Tile index of an open door: one past the Cell codes, so a frame stays a single gather.
OPEN_DOOR_TILE = len(Cell)

# Below this size a one-pixel line would cover too much of each cell to help.
MIN_TILE_FOR_GRID_LINES = 6

# Where the "carrying a key" mark sits on the agent's tile, in tile fractions.
_KEY_MARK_CENTER = (0.78, 0.78)
_KEY_MARK_RADIUS = 0.14


@lru_cache(maxsize=16)  # one entry per tile size in use
def _key_mask(tile_size: int) -> np.ndarray:
    """A key lying on the floor: round bow, shaft and one tooth, through the tile centre."""
    return (
        disc_mask(tile_size, (0.5, 0.33), 0.2)
        | rect_mask(tile_size, 0.44, 0.33, 0.56, 0.86)
        | rect_mask(tile_size, 0.56, 0.7, 0.7, 0.79)
    )


@lru_cache(maxsize=16)  # one entry per tile size in use
def _door_frame_mask(tile_size: int) -> np.ndarray:
    """The dark band round a door, so open and locked doors read as doors, not floor."""
    return ~rect_mask(tile_size, 0.1, 0.1, 0.9, 0.9)


@lru_cache(maxsize=16)  # one entry per tile size in use
def cell_tiles(tile_size: int) -> np.ndarray:
    """Read-only (len(Cell) + 1, tile, tile, 3) uint8 tile images, indexed by cell code.

    The extra last tile (``OPEN_DOOR_TILE``) is an open door. Cached per tile size and
    shared by every frame, hence read-only.
    """
    if tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size}")
    colors = [CELL_COLORS[cell] for cell in Cell] + [OPEN_DOOR_COLOR]
    tiles = np.empty((len(colors), tile_size, tile_size, 3), dtype=np.uint8)
    tiles[:] = np.asarray(colors, dtype=np.uint8)[:, None, None, :]
    tiles[Cell.KEY] = CELL_COLORS[Cell.FLOOR]
    tiles[Cell.KEY][_key_mask(tile_size)] = CELL_COLORS[Cell.KEY]
    for door in (Cell.DOOR, OPEN_DOOR_TILE):
        tiles[door][_door_frame_mask(tile_size)] = DOOR_FRAME_COLOR
    if tile_size >= MIN_TILE_FOR_GRID_LINES:
        tiles[:, 0, :] = GRID_LINE_COLOR
        tiles[:, :, 0] = GRID_LINE_COLOR
    tiles.setflags(write=False)
    return tiles


def _tile_codes(
    cells: np.ndarray, open_doors: np.ndarray | None, taken_keys: np.ndarray | None
) -> np.ndarray:
    """Cell codes with open doors and taken keys swapped for the tiles that show them."""
    if cells.ndim != 2:
        raise ValueError(f"cells must be a 2-D (H, W) array of Cell codes, got {cells.shape}")
    if cells.size and (cells.min() < 0 or cells.max() >= len(Cell)):
        row, col = np.argwhere((cells < 0) | (cells >= len(Cell)))[0]
        raise ValueError(
            f"cells[{row}, {col}] = {cells[row, col]} is not a Cell code (0..{len(Cell) - 1})"
        )
    codes = cells
    if open_doors is not None:
        check_cell_array("open_doors", open_doors, cells.shape)
        codes = np.where(open_doors & (cells == Cell.DOOR), OPEN_DOOR_TILE, codes)
    if taken_keys is not None:
        check_cell_array("taken_keys", taken_keys, cells.shape)
        codes = np.where(taken_keys & (cells == Cell.KEY), Cell.FLOOR, codes)
    return codes


def draw_grid(
    cells: np.ndarray,
    tile_size: int = 32,
    *,
    open_doors: np.ndarray | None = None,
    taken_keys: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a gridworld map as a new (H * tile, W * tile, 3) uint8 frame, without the agent.

    ``open_doors`` and ``taken_keys`` are optional (H, W) bool masks for the parts of a map
    that change during an episode; they only affect DOOR and KEY cells respectively.
    """
    cells = np.asarray(cells)
    codes = _tile_codes(cells, open_doors, taken_keys)
    height, width = cells.shape
    blocks = cell_tiles(tile_size)[codes]  # (H, W, tile, tile, 3)
    return blocks.swapaxes(1, 2).reshape(height * tile_size, width * tile_size, 3)


@lru_cache(maxsize=16)  # one entry per tile size in use
def _agent_masks(tile_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(body, key mark) masks of the agent on its tile."""
    body = disc_mask(tile_size, (0.5, 0.5), 0.32)
    mark = disc_mask(tile_size, _KEY_MARK_CENTER, _KEY_MARK_RADIUS)
    for mask in (body, mark):
        mask.setflags(write=False)
    return body, mark


def agent_footprint(tile_size: int) -> np.ndarray:
    """Every pixel ``paint_agent`` may change on the agent's tile, carrying a key or not.

    Overlays use it to put the agent back on top after blending over the whole map.
    """
    body, mark = _agent_masks(tile_size)
    return body | mark


def paint_agent(
    frame: np.ndarray,
    row: int,
    col: int,
    tile_size: int,
    carrying_key: bool = False,
    color: RGB = AGENT_COLOR,
) -> None:
    """Draw the agent on ``frame`` in place at cell (row, col), as a ``color`` disc.

    In place because the env paints it on a frame it has just drawn; copying would only
    cost time on every step.
    """
    rows, cols = grid_shape(frame, tile_size)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"agent cell ({row}, {col}) is outside the {rows}x{cols} grid")
    body, mark = _agent_masks(tile_size)
    tile = frame[row * tile_size : (row + 1) * tile_size, col * tile_size : (col + 1) * tile_size]
    tile[body] = color
    if carrying_key:
        tile[mark] = CELL_COLORS[Cell.KEY]


__all__ = [
    "AGENT_COLOR",
    "CELL_COLORS",
    "GRID_LINE_COLOR",
    "OPEN_DOOR_COLOR",
    "agent_footprint",
    "cell_tiles",
    "draw_grid",
    "paint_agent",
]
