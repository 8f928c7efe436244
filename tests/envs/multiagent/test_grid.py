"""Multi-agent gridworld mechanics: map parsing, shortest paths, simultaneous moves."""

from __future__ import annotations

import numpy as np
import pytest

from envs.multiagent.grid import GRID_MOVES, STAY, grid_distances, move_agents, parse_wall_map


def test_parse_wall_map_reads_floor_and_walls() -> None:
    walls = parse_wall_map("..#\n...")
    np.testing.assert_array_equal(walls, [[False, False, True], [False, False, False]])


def test_grid_distances_go_round_walls() -> None:
    walls = parse_wall_map(["..#", "..#", "..."])
    dist = grid_distances(walls)
    np.testing.assert_array_equal(dist[0].reshape(3, 3), [[0, 1, -1], [1, 2, -1], [2, 3, 4]])
    np.testing.assert_array_equal(dist, dist.T)
    assert (dist[2] == -1).all()  # from a wall cell nothing is reachable


def test_moves_follow_the_gridworld_order_then_stay() -> None:
    np.testing.assert_array_equal(GRID_MOVES, [(-1, 0), (0, 1), (1, 0), (0, -1), (0, 0)])
    walls = parse_wall_map(["...", "...", "..."])
    centre = np.array([[1, 1]])
    ends = [move_agents(centre, np.array([a]), walls)[0][0].tolist() for a in range(5)]
    assert ends == [[0, 1], [1, 2], [2, 1], [1, 0], [1, 1]]
    assert STAY == 4


def test_a_rotation_of_three_agents_moves_every_agent() -> None:
    # A 2x2 cycle: each agent steps into the cell the next one leaves; nobody swaps.
    walls = parse_wall_map(["..", ".."])
    positions = np.array([[0, 0], [0, 1], [1, 1]])
    moved, collided = move_agents(positions, np.array([1, 2, 3]), walls)
    assert moved.tolist() == [[0, 1], [1, 1], [1, 0]]
    assert not collided.any()


@pytest.mark.parametrize("bad", [["."] * 0, [".", 5], ["..", "x."]])
def test_malformed_maps_raise(bad) -> None:
    with pytest.raises(ValueError, match="map"):
        parse_wall_map(bad)


def test_a_map_without_floor_raises() -> None:
    with pytest.raises(ValueError, match="no floor cell"):
        parse_wall_map(["##"])
