"""Graph navigation frames: nodes, edges, walked and shortest paths, goal and agent."""

from __future__ import annotations

import numpy as np
import pytest

from renders.graph import (
    AGENT_COLOR,
    BACKGROUND_COLOR,
    EDGE_COLOR,
    GOAL_COLOR,
    NODE_COLOR,
    OPTIMAL_ALPHA,
    OPTIMAL_COLOR,
    VISITED_NODE_COLOR,
    WALKED_COLOR,
    draw_graph,
    node_pixels,
    normalize_positions,
)

SIZE = 256

# A square with a centre node: 0 bottom-left, 1 bottom-right, 2 top-right, 3 top-left
# (y up), 4 in the middle. Edges run round the rim; the centre is joined to corner 0 only,
# so the middle of the top-left and bottom-right triangles stays empty.
SQUARE = np.array([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9], [0.5, 0.5]])
RIM = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 4]])


def colour(frame: np.ndarray, pixel: np.ndarray | tuple[int, int]) -> tuple[int, ...]:
    """The colour at a (row, col) pixel, as a plain tuple for readable asserts."""
    row, col = (int(v) for v in pixel)
    return tuple(int(v) for v in frame[row, col])


def midpoint(positions: np.ndarray, a: int, b: int, size: int = SIZE) -> np.ndarray:
    """The (row, col) pixel halfway between nodes ``a`` and ``b``."""
    centres = node_pixels(positions, size)
    return (centres[a] + centres[b]) // 2


def blended(under: tuple[int, ...], over: tuple[int, ...]) -> tuple[int, ...]:
    mix = (1 - OPTIMAL_ALPHA) * np.array(under) + OPTIMAL_ALPHA * np.array(over)
    return tuple(int(v) for v in np.rint(mix))


def count(frame: np.ndarray, rgb: tuple[int, ...]) -> int:
    return int((frame == rgb).all(axis=2).sum())


def test_frame_is_a_fresh_uint8_square_of_the_requested_size() -> None:
    frame = draw_graph(SQUARE, RIM, current=2, goal=3, size=SIZE)
    assert frame.shape == (SIZE, SIZE, 3)
    assert frame.dtype == np.uint8
    frame[:] = 0  # writing to one frame must not leak into the next
    again = draw_graph(SQUARE, RIM, current=2, goal=3, size=SIZE)
    assert colour(again, (SIZE // 2 - 20, SIZE // 2 + 20)) == BACKGROUND_COLOR


def test_agent_and_goal_have_their_colours_at_their_nodes() -> None:
    frame = draw_graph(SQUARE, RIM, current=2, goal=0, size=SIZE)
    centres = node_pixels(SQUARE, SIZE)
    assert colour(frame, centres[2]) == AGENT_COLOR
    assert colour(frame, centres[0]) == GOAL_COLOR
    assert colour(frame, centres[1]) == NODE_COLOR


def test_agent_is_drawn_over_the_goal_and_is_the_largest_disc() -> None:
    frame = draw_graph(SQUARE, RIM, current=1, goal=1, size=SIZE)
    assert colour(frame, node_pixels(SQUARE, SIZE)[1]) == AGENT_COLOR
    apart = draw_graph(SQUARE, np.empty((0, 2), int), current=1, goal=3, size=SIZE)
    assert count(apart, AGENT_COLOR) > count(apart, GOAL_COLOR) > count(apart, NODE_COLOR) / 3


def test_edges_are_drawn_and_empty_space_stays_background() -> None:
    frame = draw_graph(SQUARE, RIM, current=2, goal=3, size=SIZE)
    assert colour(frame, midpoint(SQUARE, 0, 1)) == EDGE_COLOR
    assert colour(frame, midpoint(SQUARE, 3, 0)) == EDGE_COLOR
    # The middle of the top-left triangle (x 0.3, y 0.7) is far from every edge and node.
    far = node_pixels(np.array([[0.3, 0.7]]), SIZE)[0]
    assert colour(frame, far) == BACKGROUND_COLOR
    # Without the edge, its midpoint is background: the line really is the edge.
    bare = draw_graph(SQUARE, RIM[1:], current=2, goal=3, size=SIZE)
    assert colour(bare, midpoint(SQUARE, 0, 1)) == BACKGROUND_COLOR


def test_y_points_up_and_x_right() -> None:
    centres = node_pixels(SQUARE, SIZE)  # (row, col)
    assert centres[3, 0] < centres[0, 0]  # top-left (y 0.9) sits above bottom-left (y 0.1)
    assert centres[1, 1] > centres[0, 1]  # bottom-right sits right of bottom-left
    assert centres[0, 0] == centres[1, 0] and centres[0, 1] == centres[3, 1]


@pytest.mark.parametrize("corner", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_discs_at_the_border_are_whole(corner: tuple[float, float]) -> None:
    positions = np.array([corner, [0.5, 0.5]])
    at_corner = draw_graph(positions, [], current=0, goal=1, size=SIZE)
    in_middle = draw_graph(positions, [], current=1, goal=0, size=SIZE)
    assert count(at_corner, AGENT_COLOR) == count(in_middle, AGENT_COLOR) > 0
    assert count(at_corner, GOAL_COLOR) == count(in_middle, GOAL_COLOR) > 0


def test_diagonal_and_steep_edges_have_no_gaps() -> None:
    positions = np.array([[0.0, 0.0], [0.3, 1.0], [1.0, 0.62]])
    frame = draw_graph(positions, [[0, 1], [0, 2]], current=1, goal=2, size=SIZE)
    drawn = (frame != BACKGROUND_COLOR).any(axis=2)
    centres = node_pixels(positions, SIZE)
    (r0, c0), (r1, _), (_, c2) = centres
    assert all(drawn[r1 : r0 + 1].any(axis=1))  # steep edge 0-1: every row it spans
    assert all(drawn[:, c0 : c2 + 1].any(axis=0))  # shallow edge 0-2: every column


def test_walked_path_is_coloured_thicker_than_edges_and_tints_its_nodes() -> None:
    frame = draw_graph(SQUARE, RIM, current=2, goal=3, walked=[0, 1, 2], size=SIZE)
    centres = node_pixels(SQUARE, SIZE)
    walked_mid = midpoint(SQUARE, 0, 1)
    edge_mid = midpoint(SQUARE, 3, 0)
    assert colour(frame, walked_mid) == WALKED_COLOR
    assert colour(frame, midpoint(SQUARE, 1, 2)) == WALKED_COLOR
    assert colour(frame, edge_mid) == EDGE_COLOR  # the unwalked edge keeps its colour
    # Across the horizontal walked edge (a column) vs across the vertical plain edge (a row).
    walked_across = count(
        frame[walked_mid[0] - 8 : walked_mid[0] + 9, walked_mid[1]][None], WALKED_COLOR
    )
    edge_across = count(frame[edge_mid[0], edge_mid[1] - 8 : edge_mid[1] + 9][None], EDGE_COLOR)
    assert walked_across > edge_across == 1
    assert colour(frame, centres[0]) == colour(frame, centres[1]) == VISITED_NODE_COLOR
    assert colour(frame, centres[4]) == NODE_COLOR
    assert colour(frame, centres[2]) == AGENT_COLOR  # the agent stays on top of its path


def test_optimal_path_is_a_translucent_band_under_the_walked_path() -> None:
    frame = draw_graph(SQUARE, RIM, current=0, goal=2, walked=[0, 1], optimal=[0, 3, 2], size=SIZE)
    on_band = midpoint(SQUARE, 3, 2)  # on an edge, off the walked path
    assert colour(frame, on_band) == blended(EDGE_COLOR, OPTIMAL_COLOR)
    beside = on_band + np.array([2, 0])  # inside the band, off the 1-px edge
    assert colour(frame, beside) == blended(BACKGROUND_COLOR, OPTIMAL_COLOR)
    # Where walked and optimal share a segment the walked line is on top, the band round it.
    shared = draw_graph(SQUARE, RIM, current=1, goal=2, walked=[0, 1], optimal=[0, 1, 2], size=SIZE)
    mid = midpoint(SQUARE, 0, 1)
    assert colour(shared, mid) == WALKED_COLOR
    assert colour(shared, mid + np.array([3, 0])) == blended(BACKGROUND_COLOR, OPTIMAL_COLOR)
    # The band stays within its half-width of the path's two segments, 0-3 (left) and 3-2
    # (top), and leaves the rest of the picture alone.
    plain = draw_graph(SQUARE, RIM, current=0, goal=2, walked=[0, 1], size=SIZE)
    rows, cols = np.nonzero((frame != plain).any(axis=2))
    centres = node_pixels(SQUARE, SIZE)
    near_left = np.abs(cols - centres[3, 1]) <= 3
    near_top = np.abs(rows - centres[3, 0]) <= 3
    assert (near_left | near_top).all()
    assert near_left.any() and near_top.any()


def test_a_path_that_stays_put_draws_only_its_node() -> None:
    frame = draw_graph(SQUARE, RIM, current=4, goal=2, walked=[1, 1], optimal=[1], size=SIZE)
    assert colour(frame, node_pixels(SQUARE, SIZE)[1]) == VISITED_NODE_COLOR
    assert count(frame, WALKED_COLOR) == 0


def test_nodes_shrink_as_the_graph_grows_but_stay_visible() -> None:
    def node_pixel_count(n_nodes: int) -> int:
        positions = np.full((n_nodes, 2), 0.9)  # all but two nodes stacked on one spot
        positions[:2] = [[0.1, 0.1], [0.1, 0.3]]
        frame = draw_graph(positions, [], current=0, goal=1, size=SIZE)
        return count(frame, NODE_COLOR)

    few, many, huge = node_pixel_count(20), node_pixel_count(2_000), node_pixel_count(20_000)
    assert few > many >= huge >= 5  # the smallest node is still a plus sign


def test_a_large_graph_shows_every_node_over_its_edges() -> None:
    rng = np.random.default_rng(0)
    positions = rng.random((10_000, 2))
    edges = rng.integers(0, 10_000, (30_000, 2))  # long random edges criss-cross everything
    frame = draw_graph(positions, edges, current=0, goal=9_999, walked=[5, 6], size=512)
    centres = node_pixels(positions, 512)
    node_colours = {NODE_COLOR, VISITED_NODE_COLOR, GOAL_COLOR, AGENT_COLOR}
    seen = {tuple(int(v) for v in rgb) for rgb in frame[centres[:, 0], centres[:, 1]]}
    assert seen == node_colours
    assert colour(frame, centres[0]) == AGENT_COLOR
    assert colour(frame, centres[9_999]) == GOAL_COLOR


def test_frames_past_float32_precision_stay_exact() -> None:
    size = 4_200  # flat pixel indices pass 2**24 here
    positions = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]])
    frame = draw_graph(positions, [[0, 1]], current=2, goal=2, size=size)
    (row, c0), (_, c1), _ = node_pixels(positions, size)
    node_radius = size // 64 + 1  # the largest node disc, drawn over the edge's ends
    line = frame[row - 2 : row + 3, c0 + node_radius : c1 - node_radius]
    assert (line == EDGE_COLOR).all()  # a 5-px edge at this size, every pixel in place
    assert colour(frame, (row - 3, (c0 + c1) // 2)) == BACKGROUND_COLOR


def test_inputs_are_not_modified() -> None:
    positions, edges = SQUARE.copy(), RIM.copy()
    walked, optimal = [0, 1], [0, 3, 2]
    draw_graph(positions, edges, current=0, goal=2, walked=walked, optimal=optimal, size=SIZE)
    assert np.array_equal(positions, SQUARE) and np.array_equal(edges, RIM)
    assert walked == [0, 1] and optimal == [0, 3, 2]


def test_normalize_positions_fits_the_unit_square_and_keeps_the_shape() -> None:
    raw = np.array([[-10.0, 5.0], [30.0, 5.0], [30.0, 25.0], [10.0, 15.0]])
    unit = normalize_positions(raw)
    assert unit.shape == (4, 2)
    assert unit.min() >= 0.0 and unit.max() <= 1.0
    assert np.allclose(unit[:, 0], [0.0, 1.0, 1.0, 0.5])  # the long axis fills [0, 1]
    assert np.allclose(unit[:, 1], [0.25, 0.25, 0.75, 0.5])  # the short one is centred
    distances = np.linalg.norm(raw[:, None] - raw[None], axis=2)
    scaled = np.linalg.norm(unit[:, None] - unit[None], axis=2)
    assert np.allclose(scaled * 40.0, distances)  # one scale for both axes
    frame = draw_graph(unit, [[0, 1]], current=0, goal=2, size=SIZE)
    assert colour(frame, node_pixels(unit, SIZE)[2]) == GOAL_COLOR


def test_normalize_positions_puts_a_single_spot_in_the_middle() -> None:
    assert np.array_equal(normalize_positions(np.full((3, 2), 7.0)), np.full((3, 2), 0.5))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((3, 3)), r"positions must be a non-empty \(N, 2\) array"),
        (np.zeros((0, 2)), r"positions must be a non-empty \(N, 2\) array"),
        (np.array([[0.0, 0.0], [np.nan, 1.0]]), r"positions\[1\] = \(nan, 1.0\) is not finite"),
    ],
)
def test_normalize_positions_rejects_bad_input(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_positions(bad)


GOOD = {"positions": SQUARE, "edges": RIM, "current": 0, "goal": 2, "size": SIZE}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"positions": SQUARE[:, :1]}, r"positions must be a non-empty \(N, 2\) array.*\(5, 1\)"),
        ({"positions": np.zeros((0, 2))}, r"positions must be a non-empty \(N, 2\) array"),
        (
            {"positions": SQUARE + np.array([0, 0.2])},
            r"positions\[2\] = \(0.9, 1.1\) is outside the unit",
        ),
        ({"positions": SQUARE - 0.2}, r"positions\[0\] = .* is outside the unit square"),
        ({"positions": np.array([[0.5, np.inf]])}, r"positions\[0\] = \(0.5, inf\) is not finite"),
        ({"edges": np.array([0, 1, 2])}, r"edges must be an \(E, 2\) array.*\(3,\)"),
        ({"edges": np.array([[0.0, 1.0]])}, "edges must hold integer node indices"),
        (
            {"edges": np.array([[0, 1], [3, 5]])},
            r"edges\[1\] = \(3, 5\) refers to a node outside 0..4",
        ),
        ({"edges": np.array([[-1, 1]])}, r"edges\[0\] = \(-1, 1\) refers to a node outside"),
        ({"current": 5}, r"current = 5 is not a node \(0..4\)"),
        ({"current": -1}, r"current = -1 is not a node"),
        ({"current": 1.0}, "current must be an int node index, got 1.0"),
        ({"goal": 7}, r"goal = 7 is not a node \(0..4\)"),
        ({"walked": [0, 1, 9]}, r"walked\[2\] = 9 is not a node \(0..4\)"),
        ({"walked": [[0, 1]]}, "walked must be a sequence of int node indices"),
        ({"optimal": [0, -3]}, r"optimal\[1\] = -3 is not a node"),
        ({"optimal": [0.5]}, "optimal must be a sequence of int node indices"),
        ({"size": 63}, "size must be at least 64 pixels, got 63"),
        ({"size": 128.0}, "size must be an int, got 128.0"),
    ],
)
def test_bad_input_is_rejected_with_a_message_naming_it(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draw_graph(**{**GOOD, **change})  # type: ignore[arg-type]
    if "positions" in change or "size" in change:
        with pytest.raises(ValueError, match=message):
            node_pixels(change.get("positions", SQUARE), change.get("size", SIZE))  # type: ignore[arg-type]


def test_positions_a_hair_outside_the_square_are_accepted() -> None:
    positions = SQUARE.copy()
    positions[0] = (-1e-9, 1 + 1e-9)
    frame = draw_graph(positions, RIM, current=0, goal=2, size=SIZE)
    assert colour(frame, node_pixels(positions, SIZE)[0]) == AGENT_COLOR
