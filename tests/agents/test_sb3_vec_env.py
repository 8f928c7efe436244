"""The SB3 adapter over a Gymnasium SAME_STEP vector env behaves as SB3's own DummyVecEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

import envs  # noqa: F401 - registers the palaestra ids
from agents.sb3.vec_env import GymnasiumVecEnv, env_info, spaces_only_vec_env
from training.environments import make_vector_env

TINY = "palaestra/TinyGrid-v0"


def test_env_info_unbatches_masked_and_nested_keys():
    infos = {
        "prob": np.array([1.0, 0.5]),
        "_prob": np.array([True, True]),
        "final_obs": np.array([None, 7], dtype=object),
        "_final_obs": np.array([False, True]),
        "final_info": {"is_success": np.array([False, True]), "_is_success": np.array([0, 1])},
        "_final_info": np.array([False, True]),
    }
    assert env_info(infos, 0) == {"prob": 1.0}
    assert env_info(infos, 1) == {"prob": 0.5, "final_obs": 7, "final_info": {"is_success": True}}


def test_steps_like_dummy_vec_env_with_terminations_and_truncations():
    """Same seeds and actions: every field SB3 reads is equal, episode ends included."""
    kwargs = {"observation_mode": "coords", "max_episode_steps": 6}
    ours = GymnasiumVecEnv(make_vector_env(TINY, kwargs, n_envs=3))
    theirs = DummyVecEnv([lambda: gym.make(TINY, **kwargs) for _ in range(3)])
    for venv in (ours, theirs):
        venv.seed(5)
    np.testing.assert_array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(0)
    ends = {"terminated": 0, "truncated": 0}
    for _ in range(60):
        # Mostly right/down so that episodes reach the goal as well as time out.
        actions = rng.choice([1, 2, 0, 3], size=3, p=[0.4, 0.4, 0.1, 0.1])
        a, b = ours.step(actions), theirs.step(actions)
        for x, y in zip(a[:3], b[:3], strict=True):  # obs, rewards, dones
            np.testing.assert_array_equal(x, y)
        for info_a, info_b, done in zip(a[3], b[3], a[2], strict=True):
            assert info_a["is_success"] == info_b["is_success"]
            if done:
                np.testing.assert_array_equal(
                    info_a["terminal_observation"], info_b["terminal_observation"]
                )
                truncated = info_b["TimeLimit.truncated"]
                assert info_a["TimeLimit.truncated"] == truncated
                ends["truncated" if truncated else "terminated"] += 1
    assert ends["terminated"] > 0 and ends["truncated"] > 0
    ours.close()
    theirs.close()


def test_reports_raw_step_and_resets_episode_bookkeeping():
    venv = GymnasiumVecEnv(make_vector_env(TINY, {"observation_mode": "coords"}, n_envs=2))
    venv.reset()
    _, rewards, dones, _ = venv.step(np.array([1, 2]))
    raw_rewards, raw_dones, raw_infos = venv.last_step
    assert raw_rewards.dtype == np.float64 and rewards.dtype == np.float32  # as DummyVecEnv
    np.testing.assert_array_equal(raw_rewards.astype(np.float32), rewards)
    np.testing.assert_array_equal(raw_dones, dones)
    assert "prob" in raw_infos  # the Gymnasium (batched) form, for palaestra's tracker
    assert venv.get_attr("render_mode") == [None, None]
    assert venv.env_is_wrapped(gym.wrappers.TimeLimit) == [True, True]
    venv.close()


def test_stand_in_env_has_the_spaces_and_no_dynamics():
    obs_space, act_space = gym.spaces.Discrete(9), gym.spaces.Discrete(4)
    stand_in = spaces_only_vec_env(obs_space, act_space, n_envs=2)
    assert (stand_in.num_envs, stand_in.observation_space, stand_in.action_space) == (
        2,
        obs_space,
        act_space,
    )
    with pytest.raises(RuntimeError, match="no dynamics"):
        stand_in.reset()
