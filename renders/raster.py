"""Small numpy rasterisers shared by the tile, agent and overlay drawing.

Shapes are described in fractions of a tile (0..1, x to the right, y down) and sampled at
pixel centres, so one description gives a recognisable shape at any tile size; callers
cache the resulting boolean masks per tile size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RGB = tuple[int, int, int]


def _pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Column (x) and row (y) coordinates of pixel centres, as broadcastable grids."""
    centres = (np.arange(size) + 0.5) / size
    return centres[None, :], centres[:, None]


def disc_mask(size: int, center: tuple[float, float], radius: float) -> np.ndarray:
    """Boolean (size, size) mask of a disc; ``center`` is (x, y) in tile fractions."""
    x, y = _pixel_centres(size)
    return (x - center[0]) ** 2 + (y - center[1]) ** 2 <= radius**2


def rect_mask(size: int, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Boolean (size, size) mask of the axis-aligned rectangle [x0, x1] x [y0, y1]."""
    x, y = _pixel_centres(size)
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def convex_polygon_mask(size: int, vertices: Sequence[tuple[float, float]]) -> np.ndarray:
    """Boolean (size, size) mask of a convex polygon given by (x, y) vertices in order.

    A pixel is inside when it lies on the same side of every edge; the winding direction
    does not matter, so callers can list vertices either way round.
    """
    x, y = _pixel_centres(size)
    pts = np.asarray(vertices, dtype=np.float64)
    nxt = np.roll(pts, -1, axis=0)
    sides = [
        (bx - ax) * (y - ay) - (by - ay) * (x - ax)
        for (ax, ay), (bx, by) in zip(pts, nxt, strict=True)
    ]
    stacked = np.stack(np.broadcast_arrays(*sides))
    return np.all(stacked >= 0, axis=0) | np.all(stacked <= 0, axis=0)


def grid_shape(frame: np.ndarray, tile_size: int) -> tuple[int, int]:
    """(rows, cols) of tiles in ``frame``; rejects frames that are not whole RGB tiles."""
    if tile_size < 1:
        raise ValueError(f"tile_size must be a positive int, got {tile_size}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be an (H, W, 3) RGB array, got shape {frame.shape}")
    height, width = frame.shape[:2]
    if height % tile_size or width % tile_size:
        raise ValueError(
            f"frame of {height}x{width} pixels is not a whole number of {tile_size}px tiles"
        )
    return height // tile_size, width // tile_size


def cell_view(frame: np.ndarray, tile_size: int) -> np.ndarray:
    """A writable (rows, cols, tile, tile, 3) view of ``frame``, one block per cell.

    Indexing it with an (rows, cols) boolean mask reaches every pixel of the chosen cells
    at once, which is how the overlays avoid a Python loop over cells.
    """
    rows, cols = grid_shape(frame, tile_size)
    blocks = frame.reshape(rows, tile_size, cols, tile_size, 3).swapaxes(1, 2)
    if not np.shares_memory(blocks, frame):  # reshape copied: frame was not contiguous
        raise ValueError("frame must be C-contiguous to be drawn on in place")
    return blocks


def check_cell_array(name: str, array: np.ndarray, shape: tuple[int, int]) -> None:
    """Fail loudly when a per-cell array does not match the frame's grid."""
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected the grid shape {shape}")
