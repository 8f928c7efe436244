"""`palaestra watch` (headless through SDL's dummy driver) and policy GIFs."""

from __future__ import annotations

import logging

import gymnasium as gym
import numpy as np
from PIL import Image
from training_support import NO_RENDER_ID, invoke, train_tiny

from agents.tabular import QLearning
from renders.overlays import tabular_overlay
from training import train, watch
from training.watch import frame_function


def test_watch_record_writes_the_greedy_episode_as_a_gif(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    train_tiny(tmp_path / "run")
    gif = tmp_path / "watch.gif"
    result = invoke("watch", str(tmp_path / "run"), "--record", str(gif))  # window opens too
    assert result.exit_code == 0, result.output
    assert "episode 1: return 0.970, length 4" in result.stdout
    with Image.open(gif) as image:
        assert image.size == (96, 96) and image.n_frames >= 5


def test_watch_api_without_window(tmp_path):
    train_tiny(tmp_path / "run")
    result = watch(tmp_path / "run", episodes=2, record=tmp_path / "two.gif", window=False)
    assert result["returns"] == [0.97, 0.97] or np.allclose(result["returns"], 0.97)
    assert result["successes"] == [True, True] and result["gif"] == tmp_path / "two.gif"


def test_gridworld_frames_carry_the_q_table_overlay():
    env = gym.make("palaestra/TinyGrid-v0", render_mode="rgb_array")
    env.reset(seed=0)
    agent = QLearning(env.observation_space, env.action_space, seed=0)
    agent.q[:] = np.arange(agent.q.size).reshape(agent.q.shape)
    frame = frame_function(agent, env)()
    assert np.array_equal(frame, tabular_overlay(env, agent.q))
    assert not np.array_equal(frame, env.render())


def test_env_without_rgb_frames_skips_the_gif_with_a_note(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="training"):
        result = train(
            env=NO_RENDER_ID, steps=50, eval_episodes=2, out=str(tmp_path / "run"), verbose=False
        )
    assert not (result.run_dir / "policy.gif").exists()
    assert "policy.gif skipped" in caplog.text
    assert result.eval["mean_return"] == 5.0  # and the rest of the run is there
    assert (result.run_dir / "reward_curve.png").is_file()
