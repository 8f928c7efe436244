"""The named maps behind the registered GridWorld ids."""

from __future__ import annotations

# The default: a small room with a wall to go around and a hole to avoid; a tabular agent
# solves it in seconds and the shortest path (10 steps) is unique only up to symmetry.
GRIDWORLD = (
    "S....#..",
    ".##..#..",
    "..#.....",
    "..#.H#..",
    "....##.G",
)

# The classic 3x3 Q-learning example: start in one corner, goal in the opposite one.
TINY = (
    "S..",
    "...",
    "..G",
)

# Sutton & Barto Example 6.6 (Gymnasium's CliffWalking-v1): 4 x 12, optimum return -13.
CLIFF = (
    "............",
    "............",
    "............",
    "SCCCCCCCCCCG",
)

# Gymnasium's FrozenLake 8x8 map; every floor cell is ice when the env is slippery.
FROZEN_LAKE_8X8 = (
    "S.......",
    "........",
    "...H....",
    ".....H..",
    "...H....",
    ".HH...H.",
    ".H..H.H.",
    "...H...G",
)

# Sutton & Barto Example 6.5: 7 x 10 with an upward wind per column; optimum 15 steps.
WINDY = (
    "..........",
    "..........",
    "..........",
    "S......G..",
    "..........",
    "..........",
    "..........",
)
WINDY_WIND = (0, 0, 0, 1, 1, 1, 2, 2, 1, 0)

# Sutton, Precup & Singh (1999): four rooms joined by four one-cell hallways.
FOUR_ROOMS = (
    "#############",
    "#S....#.....#",
    "#.....#.....#",
    "#...........#",
    "#.....#.....#",
    "#.....#.....#",
    "##.####.....#",
    "#.....###.###",
    "#.....#.....#",
    "#.....#.....#",
    "#...........#",
    "#.....#....G#",
    "#############",
)

# MiniGrid-style DoorKey: pick up the key, open the locked door, reach the goal.
DOOR_KEY = (
    "########",
    "#S..#..#",
    "#...#..#",
    "#K..D..#",
    "#...#.G#",
    "########",
)
