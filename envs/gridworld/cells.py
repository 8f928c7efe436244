"""Cell types of a gridworld map and the ASCII characters that spell them.

A map is a list of equal-length strings. Every character names one cell:

====  ==========  ===========================================================
char  cell        meaning
====  ==========  ===========================================================
``.`` FLOOR       free to walk on
``#`` WALL        blocks movement (the map edge is an implicit wall)
``S`` START       where every episode begins (exactly one per map); floor
``G`` GOAL        entering it ends the episode with ``goal_reward`` (success)
``H`` HOLE        entering it ends the episode with ``hazard_reward`` (FrozenLake)
``L`` LAVA        same rule as a hole, drawn as lava (MiniGrid)
``I`` ICE         moves made from it slip sideways (see ``ice_slip``)
``C`` CLIFF       entering it costs ``cliff_reward`` and sends the agent to start
``K`` KEY         a key lying on floor; ``pickup`` on it takes it
``D`` DOOR        a locked door: a wall until ``toggle``d open next to it with a key
====  ==========  ===========================================================
"""

from __future__ import annotations

from enum import IntEnum


class Cell(IntEnum):
    FLOOR = 0
    WALL = 1
    START = 2
    GOAL = 3
    HOLE = 4
    LAVA = 5
    ICE = 6
    CLIFF = 7
    KEY = 8
    DOOR = 9


CHAR_TO_CELL: dict[str, Cell] = {
    ".": Cell.FLOOR,
    "#": Cell.WALL,
    "S": Cell.START,
    "G": Cell.GOAL,
    "H": Cell.HOLE,
    "L": Cell.LAVA,
    "I": Cell.ICE,
    "C": Cell.CLIFF,
    "K": Cell.KEY,
    "D": Cell.DOOR,
}
CELL_TO_CHAR: dict[Cell, str] = {cell: char for char, cell in CHAR_TO_CELL.items()}

# Cells that end an episode when entered.
TERMINAL_CELLS = frozenset({Cell.GOAL, Cell.HOLE, Cell.LAVA})
HAZARD_CELLS = frozenset({Cell.HOLE, Cell.LAVA})


class Action(IntEnum):
    """Discrete actions. Moves follow Gymnasium's CliffWalking order (clockwise from up)."""

    UP = 0
    RIGHT = 1
    DOWN = 2
    LEFT = 3
    PICKUP = 4
    TOGGLE = 5


# (d_row, d_col) for each move action.
MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
