"""Atari ids through the training API: the pipeline, its two variants, env kwargs, the CNN,
and a tiny run from training to GIF."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image, ImageSequence

from agents.common.networks import NatureCNN
from agents.tabular import QLearningConfig
from envs.atari import AtariVectorPipeline
from renders.viewer import PygameViewer
from training import ConfigError, TrainConfig, evaluate_run, train, watch
from training.environments import check_env_id, make_env, make_vector_env
from training.run import build_agent, make_training_env, prepare

PONG = "ALE/Pong-v5"
BREAKOUT = "ALE/Breakout-v5"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Every test but the one about a missing ale-py needs the extra.
needs_atari = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("ale_py", "cv2")),
    reason='needs the Atari extra: pip install "palaestra[atari]"',
)


def wrapper_names(env: gym.Env) -> list[str]:
    names = []
    while isinstance(env, gym.Wrapper):
        names.append(type(env).__name__)
        env = env.env
    return names


@needs_atari
@pytest.mark.parametrize("env_id", [BREAKOUT, "BreakoutNoFrameskip-v4"])
def test_atari_ids_get_the_pipeline_scored_for_evaluation_and_clipped_for_training(env_id):
    scored = make_env(env_id)
    training = make_env(env_id, training=True)
    assert scored.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert "AtariPreprocessing" in wrapper_names(scored)
    assert not {"EpisodicLife", "ClipReward"} & set(wrapper_names(scored))
    assert {"EpisodicLife", "ClipReward"} <= set(wrapper_names(training))
    venv = make_vector_env(env_id, n_envs=3)
    assert isinstance(venv, AtariVectorPipeline) and venv.num_envs == 3
    assert venv.single_observation_space == scored.observation_space


@needs_atari
def test_learners_step_the_training_variant():
    # Breakout with FIRE held: each life ends a training episode, but only game over ends
    # an evaluation one.
    config = TrainConfig(env=BREAKOUT, agent="ppo", env_kwargs={"noop_max": 0}, device="cpu")
    venv = prepare(config).env
    venv.reset(seed=0)
    terminated = np.array([False])
    while not terminated.any():
        _, _, terminated, _, info = venv.step(np.ones(venv.num_envs, dtype=np.int64))
    assert set(info["lives"][terminated]) == {4}
    single = make_training_env(config, QLearningConfig())  # an agent without n_envs
    assert "EpisodicLife" in wrapper_names(single)


@needs_atari
def test_sb3_sees_a_lost_life_as_a_terminal_observation():
    pytest.importorskip("stable_baselines3")
    from agents.sb3.vec_env import GymnasiumVecEnv

    venv = GymnasiumVecEnv(make_vector_env(BREAKOUT, {"noop_max": 0}, n_envs=2))
    venv.seed(0)
    obs = venv.reset()
    dones = np.array([False, False])
    while not dones.any():
        obs, _, dones, infos = venv.step(np.ones(2, dtype=np.int64))  # FIRE
    for i in np.flatnonzero(dones):
        assert venv.reset_infos[i]["lives"] == 4 and not infos[i]["TimeLimit.truncated"]
        assert np.array_equal(infos[i]["terminal_observation"], obs[i])  # the game goes on


@needs_atari
def test_env_kwargs_reach_the_factory_and_typos_fail_with_the_valid_keys():
    env = make_env(PONG, {"frame_stack": 2, "screen_size": 64, "noop_max": 0})
    assert env.observation_space.shape == (2, 64, 64)
    venv = make_vector_env(PONG, {"frame_stack": 2, "screen_size": 64}, n_envs=2)
    assert venv.single_observation_space.shape == (2, 64, 64)
    with pytest.raises(ConfigError, match=r"key 'noop_mx' \(did you mean 'noop_max'\?\)"):
        make_env(PONG, {"noop_mx": 3})
    with pytest.raises(ConfigError, match="valid keys: noop_max, frame_skip, screen_size"):
        make_vector_env(PONG, {"max_episode_steps": 100}, n_envs=2)
    with pytest.raises(ConfigError, match=r"could not be made.*frame_skip=0: expected >= 1"):
        make_env(PONG, {"frame_skip": 0})


@needs_atari
def test_an_unknown_atari_id_suggests_the_close_ones():
    with pytest.raises(ConfigError, match="unknown env 'ALE/Pongg-v5'; did you mean ALE/Pong-v5"):
        check_env_id("ALE/Pongg-v5")


@needs_atari
def test_ppo_gets_the_nature_cnn_with_no_further_settings():
    setup = prepare(TrainConfig(env=PONG, agent="ppo", device="cpu"))
    agent = build_agent(setup)
    setup.env.close()
    assert any(isinstance(m, NatureCNN) for m in agent.policy.modules())
    # ... and CleanRL's Atari settings instead of the CartPole defaults.
    assert setup.config.agent_config["n_steps"] == 128
    assert setup.config.agent_config["learning_rate"] == 2.5e-4
    assert setup.config.agent_config["ent_coef"] == 0.01


@needs_atari
def test_the_run_config_overrides_the_atari_preset_and_other_envs_get_none():
    config = TrainConfig(env=PONG, agent="ppo", device="cpu", agent_config={"n_steps": 16})
    setup = prepare(config)
    setup.env.close()
    assert setup.config.agent_config["n_steps"] == 16
    assert setup.config.agent_config["clip_range"] == 0.1  # the rest of the preset holds
    dqn = prepare(TrainConfig(env=PONG, agent="dqn", device="cpu"))
    dqn.env.close()
    assert dqn.config.agent_config["learning_starts"] == 100_000  # SB3 Zoo's Atari DQN
    assert dqn.config.agent_config["train_freq"] == 4
    cartpole = prepare(TrainConfig(env="CartPole-v1", agent="ppo", device="cpu"))
    cartpole.env.close()
    assert cartpole.config.agent_config["n_steps"] == 32  # PPOConfig's own default


def test_missing_ale_py_is_one_error_line_naming_the_extra(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["ale_py"] = None  # as if not installed
        from training.cli import main
        sys.argv = ["palaestra", "train", "--env", "{PONG}", "--out", r"{tmp_path / "run"}"]
        main()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: env 'ALE/Pong-v5': ale-py is not installed")
    assert 'pip install "palaestra[atari]"' in out.stderr
    assert not (tmp_path / "run").exists()


@needs_atari
def test_a_tiny_pong_run_trains_evaluates_and_records(tmp_path, monkeypatch):
    overrides = {
        # 160 emulator frames: every episode is truncated after 40 agent steps.
        "env.max_num_frames_per_episode": 160,
        "agent.n_envs": 2,
        "agent.n_steps": 16,
        "agent.batch_size": 32,
        "agent.n_epochs": 1,
    }
    result = train(
        env=PONG,
        agent="ppo",
        steps=96,
        eval_episodes=2,
        device="cpu",
        out=str(tmp_path / "run"),
        verbose=False,
        **overrides,
    )
    run = result.run_dir
    assert result.num_steps == 96  # 3 rollouts of 2 envs x 16 steps
    assert result.episodes == 2  # each env played 48 steps: one 40-step game
    assert {"last.pt", "step_96.pt"} <= {p.name for p in (run / "checkpoints").iterdir()}
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["episodes"] == 2 and evaluation["mean_length"] == 40  # env kwargs used
    again = evaluate_run(run, episodes=2)
    assert again["mean_return"] == evaluation["mean_return"]  # same seeds, same games
    with Image.open(run / "policy.gif") as gif:
        assert gif.size == (160, 210) and gif.n_frames > 10  # the colour game screen

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    windows = []
    original = PygameViewer._ensure_window

    def spy(self, pygame, width, height):
        windows.append((width, height))
        return original(self, pygame, width, height)

    monkeypatch.setattr(PygameViewer, "_ensure_window", spy)
    watched = watch(run, episodes=1, record=tmp_path / "watch.gif", window=True)
    assert watched["lengths"] == [40]
    assert set(windows) == {(480, 630)}  # the 160x210 screen three times over
    with Image.open(tmp_path / "watch.gif") as gif:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
        assert gif.size == (160, 210)  # GIFs keep the game's own size
    assert 60 <= statistics.median(durations) <= 70  # 15 frames/s, the game's own speed
