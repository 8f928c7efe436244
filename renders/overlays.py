"""Overlays for tabular agents: value heatmaps, greedy-policy arrows and visit counts.

Every overlay works on whole cells through a (rows, cols, tile, tile, 3) view of the frame,
so drawing a full map costs a few array operations whatever its size. Each returns a new
frame and leaves its input untouched, so overlays can be stacked in any order.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from envs.gridworld.cells import TERMINAL_CELLS
from renders.gridworld import agent_footprint
from renders.raster import (
    RGB,
    cell_view,
    check_cell_array,
    convex_polygon_mask,
    rect_mask,
)

N_ARROW_DIRECTIONS = 4  # 0 up, 1 right, 2 down, 3 left: the gridworld's move actions


@lru_cache(maxsize=16)  # one entry per colormap name
def colormap_lut(name: str = "viridis") -> np.ndarray:
    """A matplotlib colormap sampled once to a read-only (256, 3) uint8 lookup table.

    matplotlib is imported here rather than at module level: importing it costs far more
    than drawing, and only heatmaps need it.
    """
    import matplotlib

    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


@lru_cache(maxsize=16)  # one entry per tile size in use
def arrow_masks(tile_size: int) -> np.ndarray:
    """Read-only (4, tile, tile) bool masks of an arrow pointing up, right, down, left.

    The up arrow is rasterised once and rotated, so the four directions are exact
    quarter turns of each other at every tile size.
    """
    head = convex_polygon_mask(tile_size, [(0.5, 0.12), (0.8, 0.5), (0.2, 0.5)])
    shaft = rect_mask(tile_size, 0.42, 0.5, 0.58, 0.88)
    up = head | shaft
    masks = np.stack([np.rot90(up, k=-quarter) for quarter in range(N_ARROW_DIRECTIONS)])
    masks.setflags(write=False)
    return masks


def _blend_cells(
    frame: np.ndarray, tile_size: int, scaled: np.ndarray, alpha: float, cmap: str
) -> np.ndarray:
    """Blend colormap colours over every cell whose ``scaled`` value (0..1) is finite."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    out = np.array(frame, dtype=np.uint8, copy=True, order="C")
    blocks = cell_view(out, tile_size)
    check_cell_array("values", scaled, blocks.shape[:2])
    drawn = np.isfinite(scaled)
    if not drawn.any():
        return out
    index = np.round(np.clip(scaled[drawn], 0.0, 1.0) * 255).astype(np.intp)
    colors = colormap_lut(cmap)[index].astype(np.float32)[:, None, None, :]
    under = blocks[drawn].astype(np.float32)
    blocks[drawn] = np.round((1.0 - alpha) * under + alpha * colors).astype(np.uint8)
    return out


def value_heatmap(
    frame: np.ndarray,
    values: np.ndarray,
    tile_size: int,
    alpha: float = 0.6,
    cmap: str = "viridis",
) -> np.ndarray:
    """Blend a colormap of ``values`` (H, W) over ``frame``; NaN (or inf) cells are left alone.

    Colours are normalised over the finite values, so the picture shows where value is
    relatively high whatever the reward scale. When all finite values are equal they get
    the middle colour.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    scaled = np.full(values.shape, np.nan)
    if finite.any():
        low, high = values[finite].min(), values[finite].max()
        span = high - low
        scaled[finite] = (values[finite] - low) / span if span > 0 else 0.5
    return _blend_cells(frame, tile_size, scaled, alpha, cmap)


def visit_counts(
    frame: np.ndarray,
    counts: np.ndarray,
    tile_size: int,
    alpha: float = 0.6,
    cmap: str = "magma",
) -> np.ndarray:
    """Blend a log-scaled heat of visit ``counts`` (H, W) over ``frame``.

    Log scale because visits are heavy-tailed (the start cell dwarfs the rest); unvisited
    cells are left unchanged so the explored region stands out.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if np.any(counts < 0):
        row, col = np.argwhere(counts < 0)[0]
        raise ValueError(f"counts[{row}, {col}] = {counts[row, col]} is negative")
    scaled = np.full(counts.shape, np.nan)
    visited = counts > 0
    if visited.any():
        logs = np.log1p(counts)
        scaled[visited] = logs[visited] / logs.max()
    return _blend_cells(frame, tile_size, scaled, alpha, cmap)


def policy_arrows(
    frame: np.ndarray, actions: np.ndarray, tile_size: int, color: RGB = (0, 0, 0)
) -> np.ndarray:
    """Draw an arrow per cell for ``actions`` (H, W): 0 up, 1 right, 2 down, 3 left.

    Any other value (-1 for "no arrow", or a non-move action such as pickup) draws nothing.
    """
    actions = np.asarray(actions)
    out = np.array(frame, dtype=np.uint8, copy=True, order="C")
    blocks = cell_view(out, tile_size)
    check_cell_array("actions", actions, blocks.shape[:2])
    moves = (actions >= 0) & (actions < N_ARROW_DIRECTIONS)
    pixels = np.zeros(blocks.shape[:4], dtype=bool)
    pixels[moves] = arrow_masks(tile_size)[actions[moves]]
    blocks[pixels] = color
    return out


def greedy_grids(
    q: np.ndarray, state_grid: np.ndarray, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell max-Q values (NaN elsewhere) and greedy actions (-1 elsewhere).

    Only cells the agent can act from are filled: walls have no state (-1 in
    ``state_grid``) and terminal cells end the episode before any action is taken there.
    """
    acting = (state_grid >= 0) & ~np.isin(cells, [int(cell) for cell in TERMINAL_CELLS])
    states = state_grid[acting]
    values = np.full(state_grid.shape, np.nan)
    actions = np.full(state_grid.shape, -1, dtype=np.int64)
    values[acting] = q[states].max(axis=1)
    actions[acting] = q[states].argmax(axis=1)
    return values, actions


def tabular_overlay(
    env: Any,
    q: np.ndarray,
    *,
    flags: int = 0,
    tile_size: int = 32,
    show_values: bool = True,
    show_arrows: bool = True,
) -> np.ndarray:
    """The env's current frame with the max-Q heatmap and greedy arrows of table ``q``.

    ``q`` is (n_states, n_actions), indexed like the env's Discrete observation. ``flags``
    picks which key/door situation's states to show (the background is still the env's
    current picture). The agent is put back on top so it stays visible under the overlay.
    """
    base = env.unwrapped
    q = np.asarray(q)
    if q.ndim != 2 or q.shape[0] != base.n_states:
        raise ValueError(f"q must have shape (n_states={base.n_states}, n_actions), got {q.shape}")
    frame = np.asarray(base.frame(tile_size))
    values, actions = greedy_grids(
        q, np.asarray(base.state_index_grid(flags)), np.asarray(base.layout.cells)
    )
    out = frame
    if show_values:
        out = value_heatmap(out, values, tile_size)
    if show_arrows:
        out = policy_arrows(out, actions, tile_size)
    if out is frame:
        return frame.copy()
    _restore_agent(out, frame, base.agent_pos, tile_size)
    return out


def _restore_agent(
    out: np.ndarray, original: np.ndarray, agent_pos: tuple[int, int], tile_size: int
) -> None:
    """Copy the agent's pixels from the env's own frame back over the overlay.

    Copying rather than repainting keeps whatever the env drew (such as the key mark)
    without this module having to know how the env tracks a carried key.
    """
    row, col = agent_pos
    footprint = agent_footprint(tile_size)
    cell = np.s_[row * tile_size : (row + 1) * tile_size, col * tile_size : (col + 1) * tile_size]
    out[cell][footprint] = original[cell][footprint]
