"""Renders wired into the GridWorld env: frames, overlays, human mode, lazy pygame."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from render_pixels import TILE, centre, ink_halves, run_python, tile

import envs  # noqa: F401  (registers the palaestra ids)
from envs.gridworld.cells import Action, Cell
from renders.gridworld import AGENT_COLOR, CELL_COLORS, OPEN_DOOR_COLOR
from renders.overlays import tabular_overlay


def make(map_rows: list[str], **kwargs: object) -> gym.Env:
    return gym.make("palaestra/GridWorld-v0", map=map_rows, render_tile_size=TILE, **kwargs)


def test_render_draws_the_agent_at_its_cell() -> None:
    env = make(["S.#", "..G"], render_mode="rgb_array")
    env.reset(seed=0)
    env.step(Action.DOWN)
    env.step(Action.RIGHT)
    frame = env.render()
    assert frame.shape == (2 * TILE, 3 * TILE, 3)
    assert env.unwrapped.agent_pos == (1, 1)
    assert centre(frame, 1, 1) == AGENT_COLOR
    assert centre(frame, 0, 0) == CELL_COLORS[Cell.START]
    assert centre(frame, 0, 2) == CELL_COLORS[Cell.WALL]
    assert centre(frame, 1, 2) == CELL_COLORS[Cell.GOAL]
    env.close()


def test_render_shows_a_taken_key_carried_and_an_opened_door() -> None:
    env = make(["SKDG"], render_mode="rgb_array")
    env.reset(seed=0)
    assert centre(env.render(), 0, 1) == CELL_COLORS[Cell.KEY]
    env.step(Action.RIGHT)
    env.step(Action.PICKUP)
    env.step(Action.TOGGLE)
    key_cell = tile(env.render(), 0, 1)
    mark = (int(0.78 * TILE), int(0.78 * TILE))
    assert tuple(key_cell[mark]) == CELL_COLORS[Cell.KEY]  # carried: marked on the agent
    assert tuple(key_cell[TILE // 2, 2]) == CELL_COLORS[Cell.FLOOR]  # none left on the floor
    assert centre(env.render(), 0, 2) == OPEN_DOOR_COLOR
    env.close()


def hand_made_q(base: gym.Env) -> np.ndarray:
    """Q for map ["S.#", "..G"]: best at the start, worst next to the goal, known argmaxes."""
    q = np.zeros((base.n_states, base.n_actions))
    q[base.encode_state(0, 0), Action.DOWN] = 1.0
    q[base.encode_state(0, 1), Action.LEFT] = 0.5
    q[base.encode_state(1, 0), Action.RIGHT] = 0.2
    q[base.encode_state(1, 1)] = -2.0
    q[base.encode_state(1, 1), Action.RIGHT] = -1.0
    return q


def test_tabular_overlay_draws_values_and_greedy_arrows() -> None:
    env = make(["S.#", "..G"], render_mode="rgb_array")
    env.reset(seed=0)
    base = env.unwrapped
    q = hand_made_q(base)
    frame = base.frame(TILE)
    out = tabular_overlay(env, q, tile_size=TILE)

    assert np.array_equal(base.frame(TILE), frame)  # the env's picture is untouched
    # Walls and the goal get neither heat nor arrows.
    assert np.array_equal(tile(out, 0, 2), tile(frame, 0, 2))
    assert np.array_equal(tile(out, 1, 2), tile(frame, 1, 2))
    # The agent stays on top at the start, while the rest of its tile is tinted.
    assert centre(out, 0, 0) == AGENT_COLOR
    assert not np.array_equal(tile(out, 0, 0), tile(frame, 0, 0))
    # High and low values get different heat (compared in a corner, away from the arrows).
    corner = (TILE // 8, TILE // 8)
    assert tuple(tile(out, 0, 0)[corner]) != tuple(tile(out, 1, 1)[corner])
    # Greedy arrows: LEFT at (0, 1), RIGHT at (1, 0) and (1, 1).
    at_01, at_11, at_10 = (ink_halves(tile(out, r, c)) for r, c in [(0, 1), (1, 1), (1, 0)])
    assert at_01["left"] > at_01["right"]
    assert at_11["right"] > at_11["left"]
    assert at_10["right"] > at_10["left"]


def test_tabular_overlay_layers_can_be_switched_off() -> None:
    env = make(["S.#", "..G"], render_mode="rgb_array")
    env.reset(seed=0)
    base = env.unwrapped
    q = hand_made_q(base)
    frame = base.frame(TILE)
    corner = (TILE // 8, TILE // 8)
    arrows_only = tabular_overlay(env, q, tile_size=TILE, show_values=False)
    assert tuple(tile(arrows_only, 0, 1)[corner]) == tuple(tile(frame, 0, 1)[corner])
    assert ink_halves(tile(arrows_only, 0, 1))["left"] > 0
    heat_only = tabular_overlay(env, q, tile_size=TILE, show_arrows=False)
    assert ink_halves(tile(heat_only, 0, 1))["left"] == 0
    neither = tabular_overlay(env, q, tile_size=TILE, show_values=False, show_arrows=False)
    assert np.array_equal(neither, frame)


def test_tabular_overlay_rejects_a_table_of_the_wrong_size() -> None:
    env = make(["S.G"])
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"n_states=3"):
        tabular_overlay(env, np.zeros((4, 4)))


def test_human_mode_opens_a_window_of_the_frame_size() -> None:
    import pygame

    env = make(["S.G"], render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    assert pygame.display.get_surface().get_size() == (3 * TILE, TILE)
    env.close()
    assert not pygame.display.get_init()


def test_stepping_without_render_mode_never_imports_pygame() -> None:
    code = (
        "import sys, gymnasium as gym, envs\n"
        "for mode in ('index', 'rgb'):\n"
        "    env = gym.make('palaestra/GridWorld-v0', observation_mode=mode)\n"
        "    env.reset(seed=0)\n"
        "    for _ in range(20):\n"
        "        env.step(env.action_space.sample())\n"
        "    env.close()\n"
        "print('pygame' in sys.modules)"
    )
    assert run_python(code) == "False"


def test_renders_can_be_imported_before_envs() -> None:
    # renders.gridworld imports envs.gridworld.cells and the env imports renders.gridworld:
    # both import orders must work (no circular-import failure).
    code = (
        "import renders.overlays, gymnasium as gym, envs\n"
        "env = gym.make('palaestra/GridWorld-v0', render_mode='rgb_array')\n"
        "env.reset(seed=0)\n"
        "print(env.render().shape)"
    )
    assert run_python(code) == "(160, 256, 3)"
