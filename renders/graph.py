"""Graph navigation frames drawn with numpy alone.

The graph env draws a frame on every step, so nothing here imports pygame and nothing loops
over nodes or edges in Python. Every shape becomes flat pixel indices into the frame: a line
segment is sampled once per pixel along its major axis (a DDA line, so its pixels touch
without gaps), and a disc is a precomputed stamp of offsets added to each centre. All
segments of a layer are sampled in one batch and scattered into a boolean mask, so a layer
costs a few array operations however many edges it has.

Layers, bottom to top: background, edges, the shortest-path band (blended, so the edges
beneath still show), the walked path, nodes (visited ones tinted), the goal, the agent.
Node centres keep a margin from the border wide enough for the largest shape, so every
disc and band is whole and no index can wrap onto the next row.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from renders.raster import RGB

BACKGROUND_COLOR: RGB = (246, 246, 242)
EDGE_COLOR: RGB = (178, 178, 178)
NODE_COLOR: RGB = (72, 84, 110)
VISITED_NODE_COLOR: RGB = (120, 168, 236)
WALKED_COLOR: RGB = (36, 100, 216)
OPTIMAL_COLOR: RGB = (250, 176, 0)
GOAL_COLOR: RGB = (46, 170, 70)
AGENT_COLOR: RGB = (230, 72, 30)

OPTIMAL_ALPHA = 0.55
"""Opacity of the shortest-path band: the edges under it stay visible."""

MIN_SIZE = 64
POSITION_TOLERANCE = 1e-6
"""How far outside [0, 1] a coordinate may stray (float error) before it is rejected."""

# Radii in pixels. Nodes shrink with the typical spacing between them (size / sqrt(N)) but
# stay at least a plus sign; the goal and agent keep a floor so they are found among
# thousands of nodes.
_NODE_RADIUS_PER_SPACING = 0.12
_MIN_NODE_RADIUS = 1.0
_MAX_NODE_RADIUS_PER_SIZE = 1 / 64
_GOAL_RADIUS_PER_NODE = 1.4
_AGENT_RADIUS_PER_NODE = 1.8
_MIN_GOAL_RADIUS_PER_SIZE = 1 / 100
_MIN_AGENT_RADIUS_PER_SIZE = 1 / 80


def _line_widths(size: int) -> tuple[int, int, int]:
    """Odd widths in pixels of (edges, walked path, shortest-path band), grown with size."""
    edge = 2 * (size // 1536) + 1  # 1 px up to 1535 px frames
    walked = 3 * edge
    return edge, walked, walked + 4 * edge


def _radii(n_nodes: int, size: int) -> tuple[float, float, float]:
    """Radii in pixels of (nodes, goal, agent) for ``n_nodes`` nodes on a ``size`` frame."""
    spacing = size / math.sqrt(n_nodes)
    node = min(
        max(_NODE_RADIUS_PER_SPACING * spacing, _MIN_NODE_RADIUS),
        max(_MAX_NODE_RADIUS_PER_SIZE * size, _MIN_NODE_RADIUS),
    )
    goal = max(_GOAL_RADIUS_PER_NODE * node, _MIN_GOAL_RADIUS_PER_SIZE * size)
    agent = max(_AGENT_RADIUS_PER_NODE * node, _MIN_AGENT_RADIUS_PER_SIZE * size)
    return node, goal, agent


def _margin(n_nodes: int, size: int) -> int:
    """Pixels kept free round the node centres so the widest shape fits in the frame."""
    _, goal, agent = _radii(n_nodes, size)
    band = _line_widths(size)[2] // 2
    return math.ceil(max(goal, agent, band)) + 1


@lru_cache(maxsize=64)  # a handful of radii per frame size in use
def _disc_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Read-only (row, col) offsets of the pixels of a disc round the origin."""
    reach = math.floor(radius)
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    inside = dy**2 + dx**2 <= radius**2 + 1e-9
    offsets = dy[inside].astype(np.intp), dx[inside].astype(np.intp)
    for array in offsets:
        array.setflags(write=False)
    return offsets


def _stamp(centres: np.ndarray, radius: float, size: int) -> np.ndarray:
    """Flat frame indices of a disc of ``radius`` round each (row, col) centre."""
    dy, dx = _disc_offsets(radius)
    flat_centres = centres[:, 0] * size + centres[:, 1]
    return (flat_centres[:, None] + (dy * size + dx)[None, :]).ravel()


def _segment_pixels(starts: np.ndarray, ends: np.ndarray, width: int, size: int) -> np.ndarray:
    """Flat frame indices of ``width``-px DDA lines from each (row, col) start to its end.

    Each segment gets one sample per pixel along its longer axis, both ends included, so
    the whole batch is a single repeat-and-interpolate with no per-segment Python. Width
    is a run of pixels across the minor axis at each sample: ``width`` writes a sample
    rather than the width squared a disc brush would cost.
    """
    delta = ends - starts
    steps = np.abs(delta).max(axis=1)
    counts = steps + 1
    total = int(counts.sum())
    # float32 halves the memory traffic but is exact only below 2**24: sample numbers and
    # flat indices past that need float64.
    real = np.float32 if max(total, size * size) < 2**24 else np.float64
    k = np.arange(total, dtype=real)
    k -= np.repeat((np.cumsum(counts) - counts).astype(real), counts)  # index in segment
    step = (delta / np.maximum(steps, 1)[:, None]).astype(real)
    # +0.5 then floor rounds (half up), and is much cheaper than np.rint.
    rows = np.repeat(starts[:, 0].astype(real) + 0.5, counts)
    rows += k * np.repeat(step[:, 0], counts)
    cols = np.repeat(starts[:, 1].astype(real) + 0.5, counts)
    cols += k * np.repeat(step[:, 1], counts)
    np.floor(rows, out=rows)
    np.floor(cols, out=cols)
    rows *= size
    rows += cols
    pixels = rows.astype(np.intp)
    if width == 1:
        return pixels
    # Mostly horizontal segments widen along rows (a stride of one frame row), others
    # along columns.
    across = np.where(np.abs(delta[:, 1]) >= np.abs(delta[:, 0]), size, 1)
    half = np.arange(-(width // 2), width // 2 + 1)
    return (pixels[:, None] + np.repeat(across, counts)[:, None] * half[None, :]).ravel()


def _line_pixels(centres: np.ndarray, pairs: np.ndarray, width: int, size: int) -> np.ndarray:
    """Sorted unique flat indices of lines of ``width`` px joining node ``pairs``.

    Wide lines get a disc of their width on every end so polylines have no notch at the
    joints. Lines overlap at their ends and wide lines overlap themselves; deduplicating
    through a frame-sized mask is cheaper than writing RGB triples several times over, and
    lets a blended layer blend each pixel once.
    """
    if not len(pairs):
        return np.empty(0, dtype=np.intp)
    pixels = _segment_pixels(centres[pairs[:, 0]], centres[pairs[:, 1]], width, size)
    mask = np.zeros(size * size, dtype=bool)
    mask[pixels] = True
    if width > 1:
        mask[_stamp(centres[np.unique(pairs)], width / 2, size)] = True
    return np.flatnonzero(mask)


@lru_cache(maxsize=8)  # one entry per frame size in use
def _background(size: int) -> np.ndarray:
    """Read-only blank frame; copying it is far cheaper than broadcasting a colour."""
    frame = np.empty((size, size, 3), dtype=np.uint8)
    frame[:] = BACKGROUND_COLOR
    frame.setflags(write=False)
    return frame


def _path_pairs(path: np.ndarray) -> np.ndarray:
    """(len - 1, 2) consecutive node pairs of a path, for drawing it as a polyline."""
    return np.stack([path[:-1], path[1:]], axis=1)


def node_pixels(positions: np.ndarray, size: int = 512) -> np.ndarray:
    """(N, 2) int (row, col) pixel of each node's centre in a ``draw_graph`` frame.

    y points up in ``positions`` and down in the image, hence the flip. Also what a viewer
    needs to map a mouse click back to a node.
    """
    return _centres(_check_positions(positions), _check_size(size))


def _centres(positions: np.ndarray, size: int) -> np.ndarray:
    """``node_pixels`` for positions and size already checked."""
    margin = _margin(len(positions), size)
    span = size - 1 - 2 * margin
    cols = margin + positions[:, 0] * span
    rows = margin + (1.0 - positions[:, 1]) * span
    return np.rint(np.stack([rows, cols], axis=1)).astype(np.intp)


def normalize_positions(positions: np.ndarray) -> np.ndarray:
    """Rescale arbitrary finite (N, 2) coordinates into the unit square.

    One scale for both axes, so the layout keeps its shape; the shorter axis is centred.
    All points on one spot land in the middle.
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or len(pos) == 0:
        raise ValueError(f"positions must be a non-empty (N, 2) array, got shape {pos.shape}")
    _check_finite(pos)
    low, high = pos.min(axis=0), pos.max(axis=0)
    span = float((high - low).max())
    if span == 0.0:
        return np.full_like(pos, 0.5)
    unit = (pos - low) / span
    unit += (1.0 - (high - low) / span) / 2  # centre the shorter axis
    return np.clip(unit, 0.0, 1.0)


def draw_graph(
    positions: np.ndarray,
    edges: np.ndarray,
    current: int,
    goal: int,
    walked: Sequence[int] = (),
    optimal: Sequence[int] = (),
    size: int = 512,
) -> np.ndarray:
    """Draw a graph navigation scene as a new (size, size, 3) uint8 frame.

    ``positions`` (N, 2) lie in the unit square, x right and y up (``normalize_positions``
    gets arbitrary layouts there); ``edges`` (E, 2) are node index pairs. ``walked`` is the
    agent's path so far, drawn as a thick polyline with its nodes tinted; ``optimal`` is a
    shortest path, drawn as a translucent band under it. The goal and then the agent (the
    largest disc) are drawn last, over everything else; an agent on the goal covers it.
    """
    positions = _check_positions(positions)
    n_nodes = len(positions)
    size = _check_size(size)
    edges = _check_edges(edges, n_nodes)
    current = _check_node("current", current, n_nodes)
    goal = _check_node("goal", goal, n_nodes)
    walked_path = _check_path("walked", walked, n_nodes)
    optimal_path = _check_path("optimal", optimal, n_nodes)

    centres = _centres(positions, size)
    node_r, goal_r, agent_r = _radii(n_nodes, size)
    edge_w, walked_w, optimal_w = _line_widths(size)

    frame = _background(size).copy()
    pixels = frame.reshape(-1, 3)  # a view: writes land in frame

    pixels[_line_pixels(centres, edges, edge_w, size)] = EDGE_COLOR
    band = _line_pixels(centres, _path_pairs(optimal_path), optimal_w, size)
    under = pixels[band].astype(np.float32)
    over = np.asarray(OPTIMAL_COLOR, dtype=np.float32)
    pixels[band] = np.rint((1 - OPTIMAL_ALPHA) * under + OPTIMAL_ALPHA * over)
    pixels[_line_pixels(centres, _path_pairs(walked_path), walked_w, size)] = WALKED_COLOR

    pixels[_stamp(centres, node_r, size)] = NODE_COLOR
    if len(walked_path):
        visited = np.unique(walked_path)
        pixels[_stamp(centres[visited], node_r, size)] = VISITED_NODE_COLOR
    pixels[_stamp(centres[[goal]], goal_r, size)] = GOAL_COLOR
    pixels[_stamp(centres[[current]], agent_r, size)] = AGENT_COLOR
    return frame


def _check_finite(pos: np.ndarray) -> None:
    bad = ~np.isfinite(pos).all(axis=1)
    if bad.any():
        node = int(np.argmax(bad))
        raise ValueError(f"positions[{node}] = {tuple(pos[node].tolist())} is not finite")


def _check_positions(positions: np.ndarray) -> np.ndarray:
    """Positions as float64 (N, 2), clipped onto the unit square once checked to be in it."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or len(pos) == 0:
        raise ValueError(f"positions must be a non-empty (N, 2) array, got shape {pos.shape}")
    _check_finite(pos)
    outside = ((pos < -POSITION_TOLERANCE) | (pos > 1 + POSITION_TOLERANCE)).any(axis=1)
    if outside.any():
        node = int(np.argmax(outside))
        raise ValueError(
            f"positions[{node}] = {tuple(pos[node].tolist())} is outside the unit square "
            "[0, 1]^2; rescale with normalize_positions"
        )
    return np.clip(pos, 0.0, 1.0)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"size must be an int, got {size!r}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    return int(size)


def _check_edges(edges: np.ndarray, n_nodes: int) -> np.ndarray:
    """Edges as intp (E, 2); an empty sequence means no edges."""
    array = np.asarray(edges)
    if array.size == 0:
        return np.empty((0, 2), dtype=np.intp)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"edges must be an (E, 2) array of node pairs, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"edges must hold integer node indices, got dtype {array.dtype}")
    bad = ((array < 0) | (array >= n_nodes)).any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        pair = tuple(array[row].tolist())
        raise ValueError(f"edges[{row}] = {pair} refers to a node outside 0..{n_nodes - 1}")
    return array.astype(np.intp, copy=False)


def _check_node(name: str, node: int, n_nodes: int) -> int:
    try:
        index = operator.index(node)
    except TypeError:
        raise ValueError(f"{name} must be an int node index, got {node!r}") from None
    if not 0 <= index < n_nodes:
        raise ValueError(f"{name} = {index} is not a node (0..{n_nodes - 1})")
    return index


def _check_path(name: str, path: Sequence[int], n_nodes: int) -> np.ndarray:
    array = np.asarray(path)
    if array.size == 0:
        return np.empty(0, dtype=np.intp)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must be a sequence of int node indices, got {array.dtype} of "
            f"shape {array.shape}"
        )
    bad = (array < 0) | (array >= n_nodes)
    if bad.any():
        step = int(np.argmax(bad))
        raise ValueError(f"{name}[{step}] = {array[step]} is not a node (0..{n_nodes - 1})")
    return array.astype(np.intp, copy=False)


__all__ = [
    "AGENT_COLOR",
    "BACKGROUND_COLOR",
    "EDGE_COLOR",
    "GOAL_COLOR",
    "NODE_COLOR",
    "OPTIMAL_ALPHA",
    "OPTIMAL_COLOR",
    "VISITED_NODE_COLOR",
    "WALKED_COLOR",
    "draw_graph",
    "node_pixels",
    "normalize_positions",
]
