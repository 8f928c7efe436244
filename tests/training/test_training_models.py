"""Perception models from the training command: the ``wrappers`` section (models trained into
the run directory and reused by eval, watch and resume) and ``ppo_pretrained_encoder``
pretraining its own encoder."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from training_support import TINY, TINY_OPTIMUM, invoke

from agents.evaluation import run_episode
from agents.models import CellCNN, GaussianNoise, KMeansAbstraction, KMeansConfig, PixelsToIndex
from agents.models import wrappers as model_wrappers
from agents.models.encoder_ppo import PretrainedEncoderPPO
from agents.tabular import ValueIteration
from training import ConfigError, TrainConfig, resume, train
from training.regression.case import load_cases
from training.run import prepare
from training.rundir import load_run

GRIDWORLD = "palaestra/GridWorld-v0"
PIXELS = ("--set", "env.observation_mode=rgb", "--set", "env.obs_tile_size=4")
UMAZE = '["S#G", ".#.", "..."]'
REGRESSION = Path(__file__).parents[1] / "regression"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def optimum(env_id: str, **env_kwargs: object) -> float:
    """The exact optimal return of a deterministic gridworld (value iteration's greedy
    episode on the env's own state index)."""
    env = gym.make(env_id, **env_kwargs)
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, total_steps=0)
    return run_episode(planner, env, seed=0).episode_return


def forbid_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every wrapper model's training fail: what runs afterwards must load files."""

    def no_training(*args: object) -> None:
        raise AssertionError("a wrapper model was trained again")

    for name, kind in list(model_wrappers.WRAPPERS.items()):
        if kind.fit is not None:
            monkeypatch.setitem(
                model_wrappers.WRAPPERS, name, dataclasses.replace(kind, fit=no_training)
            )


def test_pixels_to_index_from_the_cli_is_trained_once_and_reused(tmp_path, monkeypatch):
    result = invoke(
        "train", "--env", GRIDWORLD, "--steps", "20000", "--out", "run", "-q", *PIXELS,
        "--set", "wrappers=[{name: pixels_to_index}]", "--set", "eval_episodes=3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    model_file = run / "perception.pt"
    recorded = yaml.safe_load((run / "config.yaml").read_text())["wrappers"]
    assert recorded == [
        {"name": "pixels_to_index", "model": "run/perception.pt", "channels": 16,
         "epochs": 100, "memoize": True},
    ]  # fmt: skip
    assert CellCNN.load(model_file).config.tile_size == 4
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["mean_return"] == pytest.approx(optimum(GRIDWORLD))  # 0.9, 10 moves

    before = (model_file.stat().st_mtime_ns, model_file.read_bytes())
    forbid_training(monkeypatch)
    again = invoke("eval", "run", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["mean_return"] == evaluation["mean_return"]
    loaded = load_run(run)
    env = loaded.make_env()
    assert isinstance(env, PixelsToIndex) and env.observation_space == gym.spaces.Discrete(40)
    watched = invoke("watch", "run", "--no-window", "--record", "watch.gif")
    assert watched.exit_code == 0, watched.output
    assert "return 0.900, length 11" in watched.stdout
    assert invoke("train", "--resume", "run", "--steps", "21000", "-q").exit_code == 0
    assert (model_file.stat().st_mtime_ns, model_file.read_bytes()) == before
    assert yaml.safe_load((run / "config.yaml").read_text())["wrappers"] == recorded


def test_noise_then_kmeans_from_the_api_and_a_moved_run(tmp_path, monkeypatch):
    wrappers = [
        {"name": "gaussian_noise", "std": 0.05},
        {"name": "kmeans_to_index", "n_clusters": 9, "fit_steps": 500},
    ]
    config = TrainConfig(
        env=TINY, steps=1500, out="run", eval_episodes=5, wrappers=wrappers,
        env_kwargs={"observation_mode": "coords"},
    )  # fmt: skip
    result = train(config, verbose=False)
    assert result.eval["mean_return"] == pytest.approx(TINY_OPTIMUM)
    abstraction = KMeansAbstraction.load(tmp_path / "run" / "kmeans.npz")
    # Fitted on the noisy observations: the 9 cells of the 3x3 grid, within the noise.
    centres = sorted(map(tuple, np.round(abstraction.cluster_centers())))
    assert centres == [(r, c) for r in range(3) for c in range(3)]
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["wrappers"]
    assert recorded[1] == {**wrappers[1], "model": "run/kmeans.npz", "n_init": 10}

    # The run directory moves; what it saved is found where it is now.
    shutil.move(tmp_path / "run", tmp_path / "moved")
    forbid_training(monkeypatch)
    loaded = load_run(tmp_path / "moved")
    assert loaded.config.wrappers[1]["model"] == str(tmp_path / "moved" / "kmeans.npz")
    env = loaded.make_env()
    assert isinstance(env, model_wrappers.KMeansToIndex) and isinstance(env.env, GaussianNoise)
    assert resume(tmp_path / "moved", steps=2000, verbose=False).eval == result.eval


def test_a_model_file_fixes_unset_settings_and_must_agree_with_set_ones(tmp_path):
    abstraction = KMeansAbstraction(KMeansConfig(n_clusters=4))
    abstraction.fit(np.array([[r, c] for r in range(3) for c in range(3)], dtype=float))
    abstraction.save(tmp_path / "k4.npz")
    config = TrainConfig(
        env=TINY, steps=200, eval_episodes=1, env_kwargs={"observation_mode": "coords"}
    )
    setup = prepare(
        dataclasses.replace(config, wrappers=[{"name": "kmeans_to_index", "model": "k4.npz"}])
    )
    assert setup.env.observation_space == gym.spaces.Discrete(4)
    assert setup.config.wrappers[0]["n_clusters"] == 4
    mismatch = [{"name": "kmeans_to_index", "model": "k4.npz", "n_clusters": 16}]
    with pytest.raises(ConfigError, match=r"n_clusters=16 but the model in 'k4.npz' has n_cl"):
        prepare(dataclasses.replace(config, wrappers=mismatch))


def test_every_copy_of_a_vector_env_is_wrapped():
    config = TrainConfig(
        env=TINY, agent="ppo", device="cpu", agent_config={"n_envs": 3},
        env_kwargs={"observation_mode": "coords"}, wrappers=[{"name": "gaussian_noise"}],
    )  # fmt: skip
    venv = prepare(config).env
    assert [type(copy) for copy in venv.envs] == [GaussianNoise] * 3
    assert venv.single_observation_space.dtype == np.float32
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 2) and not np.array_equal(obs, np.round(obs))  # noisy (0, 0)s


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["wrappers=[{name: pixels_to_idx}]"], ["'pixels_to_idx'", "'pixels_to_index'"]),
        (["wrappers=[{name: gaussian_noise, stdd: 1}]"], ["'stdd'", "valid keys: std"]),
        (["wrappers=[{name: gaussian_noise, std: high}]"], ["std='high'", "float"]),
        (["wrappers=[{name: gaussian_noise, std: -1}]"], ["wrappers[0]", ">= 0"]),
        (["wrappers=[gaussian_noise]"], ["wrappers='[gaussian_noise]'", "list[dict"]),
        (["wrappers=5"], ["wrappers='5'", "list[dict"]),
        (
            ["wrappers=[{name: kmeans_to_index, n_clusters: 8, fit_steps: 4}]"],
            ["fit_steps=4", "n_clusters=8"],
        ),
        (["wrappers=[{name: pixels_to_index}]"], ["pixels_to_index", "observation_mode='rgb'"]),
        (
            ["wrappers=[{name: pixels_to_index, model: nope.pt}]", *PIXELS[1::2]],
            ["'nope.pt' does not exist"],
        ),
        (["wrappers=[{name: kmeans_to_index}]"], ["kmeans_to_index", "Box observations"]),
        (
            ["wrappers=[{name: gaussian_noise}]", "env=palaestra/PenaltyGame-v0", "agent=iql"],
            ["multi-agent"],
        ),
        (
            ["agent=ppo_pretrained_encoder"],
            ["ppo_pretrained_encoder", "rank-3 image spaces, got Discrete"],
        ),
        (["agent=ppo_pretrained_encoder", "agent.pretrain_frames=0"], ["pretrain_frames", ">= 1"]),
    ],
)
def test_bad_wrappers_are_one_line_exit_2_and_write_nothing(tmp_path, args, expected):
    sets = [part for arg in args for part in ("--set", arg)]
    result = invoke("train", "--env", TINY, "--steps", "100", *sets, "--out", "explicit", "-q")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_ppo_pretrained_encoder_from_the_cli_pretrains_once(tmp_path, monkeypatch):
    ppo = ["n_envs=2", "n_steps=16", "batch_size=32", "pretrain_frames=64", "pretrain_epochs=2"]
    sets = [part for kv in ppo for part in ("--set", f"agent.{kv}")]
    result = invoke(
        "train", "--env", GRIDWORLD, "--agent", "ppo_pretrained_encoder", "--steps", "256",
        "--device", "cpu", "--out", "run", "-q", *PIXELS, "--set", f"env.map={UMAZE}",
        "--set", "eval_episodes=1", *sets,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    agent = PretrainedEncoderPPO.load(run / "checkpoints" / "last.pt")
    assert agent.encoder_pretrained and agent.autoencoder_config.frame_shape == (12, 12, 3)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    first_loss = float(rows[0]["pretrain_initial_loss"])
    assert 0 < float(rows[0]["pretrain_final_loss"]) < first_loss

    monkeypatch.setattr(PretrainedEncoderPPO, "pretrain_encoder", None)  # never called again
    assert invoke("train", "--resume", "run", "--steps", "320", "-q").exit_code == 0
    assert PretrainedEncoderPPO.load(run / "checkpoints" / "last.pt").num_steps == 320


@pytest.mark.parametrize("name", ["q_learning_pixels_gridworld", "ppo_pretrained_encoder_umaze"])
def test_the_model_regression_cases_end_at_the_value_iteration_optimum(name):
    case = load_cases(REGRESSION / "cases")[name]
    env_kwargs = {
        key.removeprefix("env."): value
        for key, value in case.overrides.items()
        if key.startswith("env.") and key not in ("env.observation_mode", "env.obs_tile_size")
    }
    best = optimum(case.env, **env_kwargs)
    curves = json.loads((REGRESSION / "baselines" / f"{name}.json").read_text())["curves"]
    assert [curve[-1] for curve in curves.values()] == pytest.approx([best] * len(curves))
