"""Labelled frames and random maps: labels are the env's own state, maps are what they say."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the palaestra ids)
from agents.models import (
    LabelledFrames,
    enumerate_frames,
    placeable_states,
    random_map,
    random_observations,
    random_play_frames,
    reachable_states,
)
from envs.gridworld import maps
from envs.gridworld.gridworld import GridWorldEnv


def test_reachable_states_of_a_small_map_are_every_cell_but_the_walls() -> None:
    env = GridWorldEnv(["S.#", "..#", "#.G"])
    # 6 floor cells: (0,0) (0,1) (1,0) (1,1) (2,1) (2,2); index = row * 3 + col.
    assert reachable_states(env).tolist() == [0, 1, 3, 4, 7, 8]


def test_cells_behind_the_goal_are_not_reachable_but_placeable() -> None:
    env = GridWorldEnv(["SG."])  # the episode ends on the goal, so (0, 2) is never reached
    assert reachable_states(env).tolist() == [0, 1]
    assert placeable_states(env).tolist() == [0, 1, 2]


def test_door_key_states_include_the_item_flags() -> None:
    env = GridWorldEnv(maps.DOOR_KEY)
    reached = reachable_states(env)
    flags = {env.decode_state(s)[2] for s in reached}
    # No flag, key taken, key taken and door open (the door never opens without the key).
    assert flags == {0, 1, 3}
    assert len(placeable_states(env)) == 4 * np.count_nonzero(env.layout.cells != 1)


def test_enumerated_frames_are_the_env_s_own_pictures_of_each_state() -> None:
    env = GridWorldEnv(maps.GRIDWORLD, observation_mode="rgb", obs_tile_size=4)
    env.reset(seed=0)
    env.step(1)
    before = env.state
    data = enumerate_frames(env)
    assert env.state == before  # left as it was
    assert data.frames.shape == (len(reachable_states(env)), 20, 32, 3)
    for frame, state, (row, col) in zip(data.frames, data.states, data.agent, strict=True):
        assert env.decode_state(state)[:2] == (row, col)
        env.state = int(state)
        np.testing.assert_array_equal(frame, env.frame(4))
    assert (data.goal == (4, 7)).all()


def test_random_play_frames_follow_the_env_and_reset_after_episodes() -> None:
    env = gym.make("palaestra/TinyGrid-v0", observation_mode="rgb", obs_tile_size=4)
    data = random_play_frames(env, 300, seed=3)
    assert len(data) == 300
    start = env.unwrapped.encode_state(0, 0)
    # Every episode of TinyGrid ends on the goal, and the frame after it is a new start.
    goal_rows = np.flatnonzero(data.states == env.unwrapped.encode_state(2, 2))
    assert len(goal_rows) > 1
    assert (data.states[goal_rows[goal_rows < 299] + 1] == start).all()
    # Frames are the ones the rgb observation shows, at the same tile size.
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(data.frames[0], obs)
    # The same seed gives the same play.
    again = random_play_frames(env, 300, seed=3)
    np.testing.assert_array_equal(again.states, data.states)


def test_random_observations_have_the_env_s_shape() -> None:
    obs = random_observations(gym.make("CartPole-v1"), 50, seed=0)
    assert obs.shape == (50, 4)
    assert len(np.unique(obs, axis=0)) > 40  # real play, not one repeated observation


def test_concatenated_frames_keep_maps_apart_and_refuse_mixed_sizes() -> None:
    a = enumerate_frames(GridWorldEnv(maps.TINY, obs_tile_size=4))
    both = LabelledFrames.concat([a, a])
    assert len(both) == 2 * len(a)
    assert both.map_ids.tolist() == [0] * len(a) + [1] * len(a)
    b = enumerate_frames(GridWorldEnv(maps.GRIDWORLD, obs_tile_size=4))
    with pytest.raises(ValueError, match="different sizes"):
        LabelledFrames.concat([a, b])


def test_random_maps_are_reproducible_playable_and_hold_the_asked_tiles() -> None:
    rows = random_map(9, 11, seed=4)
    assert rows == random_map(9, 11, seed=4)
    assert rows != random_map(9, 11, seed=5)
    assert len(rows) == 9 and {len(r) for r in rows} == {11}
    text = "".join(rows)
    assert text.count("S") == 1 and text.count("G") == 1
    for char in "HLIC":
        assert char in text
    GridWorldEnv(rows)  # parses: the goal is reachable
    with pytest.raises(ValueError, match="scatters only"):
        random_map(9, 9, fractions={"K": 0.1})
