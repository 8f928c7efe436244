"""Value heatmaps, policy arrows and visit counts drawn over gridworld frames."""

from __future__ import annotations

import numpy as np
import pytest
from render_pixels import INK, TILE, centre, ink_halves, tile

from envs.gridworld.cells import Cell
from renders.gridworld import CELL_COLORS, draw_grid
from renders.overlays import (
    arrow_masks,
    colormap_lut,
    greedy_grids,
    policy_arrows,
    value_heatmap,
    visit_counts,
)


def floor_frame(height: int, width: int) -> np.ndarray:
    return draw_grid(np.zeros((height, width), dtype=np.int8), TILE)


def blended(under: tuple[int, ...], over: np.ndarray, alpha: float) -> tuple[int, ...]:
    return tuple(int(v) for v in np.round((1 - alpha) * np.array(under) + alpha * over))


def test_arrows_point_the_right_way() -> None:
    frame = floor_frame(1, 4)
    arrows = policy_arrows(frame, np.array([[0, 1, 2, 3]]), TILE, color=INK)
    opposite = {"up": "down", "right": "left", "down": "up", "left": "right"}
    across = {"up": ("left", "right"), "down": ("left", "right")}
    across.update({"left": ("up", "down"), "right": ("up", "down")})
    for col, direction in enumerate(["up", "right", "down", "left"]):
        halves = ink_halves(tile(arrows, 0, col))
        # The head is heavier than the shaft, so the half it points to holds more ink...
        assert halves[direction] > halves[opposite[direction]] + TILE, (direction, halves)
        # ...and the arrow is symmetric about its own axis.
        side_a, side_b = across[direction]
        assert halves[side_a] == halves[side_b] > 0, (direction, halves)


def test_arrow_directions_are_quarter_turns_of_each_other() -> None:
    masks = arrow_masks(TILE)
    for action in range(4):
        assert np.array_equal(masks[action], np.rot90(masks[0], k=-action))


def test_no_arrow_for_minus_one_or_non_move_actions() -> None:
    frame = floor_frame(1, 3)
    arrows = policy_arrows(frame, np.array([[-1, 4, 5]]), TILE)
    assert np.array_equal(arrows, frame)


def test_arrows_do_not_mutate_the_input() -> None:
    frame = floor_frame(1, 1)
    before = frame.copy()
    out = policy_arrows(frame, np.array([[0]]), TILE)
    assert np.array_equal(frame, before)
    assert not np.array_equal(out, frame)


def test_heatmap_colours_low_and_high_values_and_skips_nan() -> None:
    frame = floor_frame(1, 3)
    before = frame.copy()
    heat = value_heatmap(frame, np.array([[-2.0, np.nan, 5.0]]), TILE, alpha=0.6)
    lut = colormap_lut("viridis")
    floor = CELL_COLORS[Cell.FLOOR]
    assert centre(heat, 0, 0) == blended(floor, lut[0], 0.6)
    assert centre(heat, 0, 2) == blended(floor, lut[255], 0.6)
    assert centre(heat, 0, 0) != centre(heat, 0, 2)
    assert np.array_equal(tile(heat, 0, 1), tile(frame, 0, 1))
    assert np.array_equal(frame, before)


def test_heatmap_of_equal_values_uses_the_middle_colour() -> None:
    heat = value_heatmap(floor_frame(1, 2), np.array([[3.0, 3.0]]), TILE, alpha=1.0)
    assert centre(heat, 0, 0) == centre(heat, 0, 1) == tuple(colormap_lut("viridis")[128])


def test_heatmap_of_only_nan_leaves_the_frame_alone() -> None:
    frame = floor_frame(2, 2)
    assert np.array_equal(value_heatmap(frame, np.full((2, 2), np.nan), TILE), frame)


def test_heatmap_rejects_values_that_do_not_match_the_grid() -> None:
    with pytest.raises(ValueError, match=r"values has shape \(2, 2\).*\(1, 3\)"):
        value_heatmap(floor_frame(1, 3), np.zeros((2, 2)), TILE)


def test_visit_counts_are_log_scaled_and_skip_unvisited_cells() -> None:
    frame = floor_frame(1, 4)
    heat = visit_counts(frame, np.array([[0, 1, 9, 99]]), TILE, alpha=1.0)
    lut = colormap_lut("magma")
    assert np.array_equal(tile(heat, 0, 0), tile(frame, 0, 0))
    assert centre(heat, 0, 3) == tuple(lut[255])
    # log1p(9) / log1p(99) = 0.5: ten times fewer visits sits halfway on a log scale.
    assert centre(heat, 0, 2) == tuple(lut[128])
    assert centre(heat, 0, 1) == tuple(lut[round(np.log(2) / np.log(100) * 255)])


def test_negative_visit_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"counts\[0, 1\] = -1.0 is negative"):
        visit_counts(floor_frame(1, 2), np.array([[0, -1]]), TILE)


def test_greedy_grids_skip_walls_and_terminal_cells() -> None:
    cells = np.array([[Cell.START, Cell.WALL, Cell.GOAL, Cell.HOLE, Cell.LAVA, Cell.ICE]])
    state_grid = np.array([[0, -1, 2, 3, 4, 5]])
    q = np.zeros((6, 4))
    q[0] = [0.0, 0.0, 0.7, 0.0]
    q[5] = [0.0, 0.0, 0.0, -0.5]  # max is 0 at the first tied action
    values, actions = greedy_grids(q, state_grid, cells)
    assert actions.tolist() == [[2, -1, -1, -1, -1, 0]]
    np.testing.assert_array_equal(values, [[0.7, np.nan, np.nan, np.nan, np.nan, 0.0]])
