"""Vector envs for agents with ``n_envs``, the ``--device`` option, and SB3 agents end to end."""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import pytest
import torch
import yaml
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv
from training_support import TINY, TINY_OPTIMUM, invoke

from agents.sb3 import SB3PPO
from agents.sb3.base import SB3Config
from agents.tabular import QLearningConfig
from training import ConfigError, TrainConfig, evaluate_run
from training.environments import env_spaces, make_vector_env
from training.run import make_training_env

GRIDWORLD = "palaestra/GridWorld-v0"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_make_vector_env_steps_copies_with_same_step_autoreset():
    venv = make_vector_env(TINY, {"observation_mode": "coords"}, n_envs=3)
    assert isinstance(venv, SyncVectorEnv) and venv.num_envs == 3
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    single = gym.make(TINY, observation_mode="coords")
    assert env_spaces(venv) == env_spaces(single) == (single.observation_space, single.action_space)
    venv.reset(seed=0)
    for _ in range(4):  # right, right, down, down: every copy reaches the goal together
        _, _, terminated, _, info = venv.step([1, 1, 1] if _ < 2 else [2, 2, 2])
    assert terminated.all() and info["final_info"]["is_success"].all()
    assert list(info["final_obs"][0]) == [2, 2]  # the goal cell, kept aside by the autoreset
    venv.close()


def test_make_vector_env_rejects_bad_input_like_make_env():
    with pytest.raises(ConfigError, match="n_envs=0: expected an int >= 1"):
        make_vector_env(TINY, {}, n_envs=0)
    with pytest.raises(ConfigError, match="unknown env 'palaestra/TinyGird-v0'"):
        make_vector_env("palaestra/TinyGird-v0", {}, n_envs=2)
    with pytest.raises(ConfigError, match=r"'observaton_mode'.*observation_mode"):
        make_vector_env(TINY, {"observaton_mode": "grid"}, n_envs=2)
    with pytest.raises(ConfigError, match="could not be made"):
        make_vector_env(TINY, {"observation_mode": "pixels"}, n_envs=2)


def test_agents_with_n_envs_get_a_vector_env_of_that_size():
    config = TrainConfig(env=TINY)
    plain_env = make_training_env(config, QLearningConfig())
    assert not isinstance(plain_env, VectorEnv)
    venv = make_training_env(config, SB3Config(n_envs=5))
    assert isinstance(venv, VectorEnv) and venv.num_envs == 5
    plain_env.close()
    venv.close()


def test_sb3_ppo_run_writes_every_file_and_learns_from_its_vector_env(tmp_path):
    result = invoke(
        "train",
        "--agent",
        "sb3_ppo",
        "--env",
        GRIDWORLD,
        "--set",
        "env.observation_mode=grid",
        "--steps",
        "2048",
        "--device",
        "cpu",
        "--set",
        "eval_episodes=2",
        "--out",
        "run",
        "-q",
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "versions.json",
        "metrics.csv",
        "eval.json",
        "reward_curve.png",
        "policy.gif",
        "checkpoints/last.zip",
        "checkpoints/step_2048.zip",
    ):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["device"] == "cpu"
    assert config["agent_config"]["device"] == "cpu"  # the run's device reaches the agent
    assert config["agent_config"]["n_envs"] == 8 and config["agent_config"]["n_steps"] == 32

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert rows and {"loss", "learning_rate", "clip_fraction"} <= set(rows[0])  # SB3 train/*
    assert all(1 <= int(r["length"]) <= 100 for r in rows)  # GridWorld's time limit is 100
    assert int(rows[-1]["step"]) <= 2048

    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["num_steps"] == 2048 and evaluation["episodes"] == 2
    # palaestra eval loads the .zip checkpoint and replays the same greedy episodes.
    again = evaluate_run(run, episodes=2)
    assert {k: again[k] for k in ("mean_return", "mean_length")} == {
        k: evaluation[k] for k in ("mean_return", "mean_length")
    }


def test_n_envs_from_set_sizes_the_vector_env_and_a_run_resumes(tmp_path):
    args = ("--agent", "sb3_ppo", "--env", TINY, "--set", "env.observation_mode=grid")
    sizes = ("--set", "agent.n_envs=3", "--set", "agent.batch_size=96")
    result = invoke("train", *args, *sizes, "--steps", "960", "--out", "run", "-q")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["agent_config"]["n_envs"] == 3
    agent = SB3PPO.load(run / "checkpoints" / "last.zip")
    assert agent.model.n_envs == 3 and agent.config.n_envs == 3
    assert agent.num_steps == 960  # 10 rollouts of 32 steps x 3 envs

    resumed = invoke("train", "--resume", str(run), "--steps", "1920", "-q")
    assert resumed.exit_code == 0, resumed.output
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["num_steps"] == 1920 and (run / "checkpoints" / "step_1920.zip").is_file()
    assert evaluation["mean_return"] == pytest.approx(TINY_OPTIMUM)
    steps = [int(r["step"]) for r in csv.DictReader((run / "metrics.csv").open())]
    assert steps == sorted(steps) and steps[-1] > 960


def test_same_seed_gives_byte_identical_metrics_for_an_sb3_agent(tmp_path):
    args = ("--agent", "sb3_ppo", "--env", TINY, "--set", "env.observation_mode=coords")
    for out in ("a", "b"):
        result = invoke("train", *args, "--steps", "512", "--set", "eval_episodes=1", "--out", out)
        assert result.exit_code == 0, result.output
    first = (tmp_path / "a" / "metrics.csv").read_bytes()
    assert first == (tmp_path / "b" / "metrics.csv").read_bytes()
    assert first.count(b"\n") > 10  # episodes and the train/* columns, not an empty file


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--device", "cuda"], ["device='cuda'", "CUDA"], marks=NO_CUDA),
        pytest.param(["--set", "agent.device=cuda:1"], ["agent.device='cuda:1'"], marks=NO_CUDA),
        (["--device", "gpu"], ["device='gpu'", "auto, cpu, cuda"]),
        (["--set", "agent.n_envs=0"], ["sb3_ppo", "n_envs must be >= 1"]),
        (["--set", "agent.policy=Mlp"], ["agent.policy='Mlp'", "MlpPolicy"]),
    ],
)
def test_bad_device_or_agent_setting_is_one_line_exit_2(tmp_path, args, expected):
    result = invoke("train", "--agent", "sb3_ppo", "--env", TINY, *args, "--out", "x", "-q")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_action_space_sb3_cannot_handle_is_one_line_exit_2(tmp_path):
    result = invoke("train", "--agent", "sb3_dqn", "--env", "Pendulum-v1", "--out", "x", "-q")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: agent 'sb3_dqn' cannot train on 'Pendulum-v1'")
    assert "Box" in result.stderr and len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_resume_takes_no_device_option(tmp_path):
    result = invoke("train", "--resume", str(tmp_path), "--device", "cpu")
    assert result.exit_code == 2 and "--device" in result.stderr
