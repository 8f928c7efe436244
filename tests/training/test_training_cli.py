"""`palaestra train/eval/list` end to end, through click's runner, in a temporary directory."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
import yaml
from PIL import Image
from training_support import TINY, TINY_OPTIMUM, invoke, train_tiny

RUN_FILES = (
    "config.yaml",
    "versions.json",
    "metrics.csv",
    "eval.json",
    "reward_curve.png",
    "policy.gif",
    "checkpoints/last.npz",
    "checkpoints/step_1500.npz",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Default run directories (runs/...) land in the test's own directory."""
    monkeypatch.chdir(tmp_path)


def test_train_writes_every_run_file_and_a_summary_line(tmp_path):
    result = invoke("train", "--env", TINY, "--steps", "1500", "--set", "eval_episodes=5")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "TinyGrid-v0_q_learning_s0"
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*")), "no TensorBoard events"

    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1
    assert "1,500 steps" in summary[0] and "steps/s" in summary[0]
    assert summary[0].endswith("run dir runs/TinyGrid-v0_q_learning_s0")

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env"] == TINY and config["steps"] == 1500 and config["eval_episodes"] == 5
    # The agent config is resolved: every field of QLearningConfig, defaults included.
    agent_config = config["agent_config"]
    assert agent_config["alpha"] == 0.1 and "epsilon_decay_steps" in agent_config

    versions = json.loads((run / "versions.json").read_text())
    assert set(versions) == {"python", "palaestra", "gymnasium", "numpy", "torch", "platform"}

    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["mean_return"] == pytest.approx(TINY_OPTIMUM)
    assert evaluation["success_rate"] == 1.0 and evaluation["num_steps"] == 1500

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert list(rows[0])[:5] == ["step", "episode", "return", "length", "success"]
    assert "epsilon" in rows[0]  # the agent's diagnostics become columns
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(int(a["step"]) < int(b["step"]) for a, b in itertools.pairwise(rows))

    assert (run / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(run / "policy.gif") as gif:
        assert gif.n_frames >= 5  # start + 4 moves of the optimal path (+ the end pause)
        assert gif.size == (3 * 32, 3 * 32)


def test_default_out_dir_is_made_unique(tmp_path):
    for _ in range(2):
        assert (
            invoke(
                "train", "--env", TINY, "--steps", "200", "--set", "eval_episodes=1", "-q"
            ).exit_code
            == 0
        )
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "TinyGrid-v0_q_learning_s0",
        "TinyGrid-v0_q_learning_s0-1",
    ]


def test_same_seed_gives_byte_identical_metrics(tmp_path):
    train_tiny(tmp_path / "a", seed=3)
    train_tiny(tmp_path / "b", seed=3)
    train_tiny(tmp_path / "c", seed=4)
    a, b, c = ((tmp_path / d / "metrics.csv").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_resolved_config_file_reproduces_the_run(tmp_path):
    train_tiny(tmp_path / "a", seed=5)
    result = invoke(
        "train", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b"), "-q"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (
        tmp_path / "b" / "metrics.csv"
    ).read_bytes()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--env", "palaestra/GridWorl-v0"],
            ["'palaestra/GridWorl-v0'", "palaestra/GridWorld-v0", "palaestra list"],
        ),
        (["--agent", "qlearning"], ["'qlearning'", "q_learning", "sarsa", "dyna_q"]),
        (["--set", "agent.alfa=0.5"], ["'alfa'", "alpha", "epsilon_start"]),
        (["--set", "stepz=10"], ["'stepz'", "steps", "agent.KEY"]),
        (["--set", "env.slippery_=1"], ["'slippery_'", "slippery", "observation_mode"]),
        (["--set", "agent.alpha=fast"], ["agent.alpha='fast'", "float"]),
        (["--set", "agent.alpha=2"], ["alpha", "2.0"]),
        (["--steps", "0"], ["steps=0", ">= 1"]),
        (["--set", "seed=x"], ["seed='x'", "int"]),
        (["--set", "env.observation_mode=pixels"], ["'pixels'", "index", "egocentric"]),
        (["--set", "env.observation_mode=grid"], ["q_learning", "Discrete"]),
        (["--env", "CartPole-v1"], ["q_learning", "CartPole-v1", "Discrete"]),
        (["--set", "device=gpu"], ["device='gpu'", "cuda"]),
        (["--config", "missing.yaml"], ["missing.yaml"]),
        (["--set", "noequals"], ["key=value"]),
    ],
)
def test_bad_configuration_is_one_line_exit_2_and_writes_nothing(tmp_path, args, expected):
    result = invoke("train", "--steps", "100", *args, "--out", "explicit", "-q")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # neither runs/ nor the explicit --out


def test_default_out_dir_is_not_created_on_error(tmp_path):
    result = invoke("train", "--agent", "nope")
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_existing_out_dir_is_refused(tmp_path):
    train_tiny(tmp_path / "run", steps=200)
    before = (tmp_path / "run" / "metrics.csv").read_bytes()
    result = invoke("train", "--env", TINY, "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "--resume" in result.stderr
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == before


def test_unknown_option_is_one_line_too():
    result = invoke("train", "--stepz", "5")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: No such option '--stepz'")
    assert "--steps" in lines[0]


def test_eval_json_prints_one_object_matching_eval_json(tmp_path):
    train_tiny(tmp_path / "run")
    result = invoke("eval", str(tmp_path / "run"), "--json")
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 1
    printed = json.loads(result.stdout)
    assert set(printed) == {"mean_return", "std_return", "success_rate", "mean_length"}
    # Same checkpoint, same episodes and seeds as the run's own final evaluation.
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert printed == {key: saved[key] for key in printed}
    assert printed["mean_return"] == pytest.approx(TINY_OPTIMUM)
    assert printed["std_return"] == pytest.approx(0.0)
    assert printed["success_rate"] == 1.0 and printed["mean_length"] == 4.0


def test_eval_text_and_episode_count(tmp_path):
    train_tiny(tmp_path / "run")
    result = invoke("eval", str(tmp_path / "run"), "--episodes", "3")
    assert result.exit_code == 0
    assert "over 3 episodes" in result.stdout and "success 100%" in result.stdout


def test_eval_of_a_missing_run_is_a_one_line_error(tmp_path):
    result = invoke("eval", str(tmp_path / "nothing"), "--json")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: not a run directory") and result.stdout == ""


def test_list_shows_palaestra_ids_with_descriptions_and_agents():
    result = invoke("list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    grid = next(line for line in lines if "palaestra/GridWorld-v0" in line)
    assert len(grid.split()) > 2  # a description follows the id
    for name in (
        "palaestra/TinyGrid-v0",
        "palaestra/CliffWalking-v0",
        "q_learning",
        "value_iteration",
        "dyna_q",
    ):
        assert any(name in line for line in lines), name
    assert not any("FrozenLake-v1" in line for line in lines)
    assert any("FrozenLake-v1" in line for line in invoke("list", "--all").stdout.splitlines())


def test_trains_gymnasium_frozenlake_to_its_optimum(tmp_path):
    result = invoke(
        "train",
        "--env",
        "FrozenLake-v1",
        "--set",
        "env.is_slippery=false",
        "--steps",
        "4000",
        "--set",
        "eval_episodes=5",
        "--out",
        "lake",
        "-q",
    )
    assert result.exit_code == 0, result.output
    evaluation = json.loads((tmp_path / "lake" / "eval.json").read_text())
    assert evaluation["mean_return"] == 1.0 and evaluation["mean_length"] == 6.0
    with Image.open(tmp_path / "lake" / "policy.gif") as gif:  # plain frames, no overlay
        assert gif.n_frames >= 7
        assert np.asarray(gif.convert("RGB")).shape == (256, 256, 3)
