"""Resuming a run: the agent, metrics and config continue from the last checkpoint."""

from __future__ import annotations

import csv

import pytest
import yaml
from training_support import invoke, train_tiny

from agents.tabular import QLearning
from training import ConfigError, resume, train


def rows(run):
    return list(csv.DictReader((run / "metrics.csv").open()))


def test_resume_continues_steps_episodes_and_config(tmp_path):
    run = tmp_path / "run"
    train_tiny(run, steps=1000)
    first = rows(run)
    result = invoke("train", "--resume", str(run), "--steps", "2500", "-q")
    assert result.exit_code == 0, result.output

    assert QLearning.load(run / "checkpoints" / "last.npz").num_steps == 2500
    assert (run / "checkpoints" / "step_1000.npz").is_file()
    assert (run / "checkpoints" / "step_2500.npz").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["steps"] == 2500

    after = rows(run)
    assert after[: len(first)] == first  # history kept as it was
    resumed = after[len(first) :]
    assert resumed, "no episodes after resuming"
    assert [int(r["episode"]) for r in after] == list(range(1, len(after) + 1))
    steps = [int(r["step"]) for r in after]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert int(resumed[0]["step"]) > 1000 and steps[-1] <= 2500


def test_resume_drops_rows_logged_after_the_last_checkpoint(tmp_path):
    """A crash after a checkpoint leaves rows the resumed agent never lived through."""
    run = tmp_path / "run"
    train_tiny(run, steps=1000)
    kept = (run / "metrics.csv").read_text()
    with (run / "metrics.csv").open("a") as f:
        f.write("1400,999,0.5,3,1,0.5,0.1\n")  # an episode past the checkpoint at 1000
    resume(run, steps=1200, verbose=False)
    text = (run / "metrics.csv").read_text()
    assert text.startswith(kept) and ",999," not in text


def test_resume_defaults_to_the_config_steps(tmp_path):
    run = tmp_path / "run"
    train_tiny(run, steps=600)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["steps"] = 900
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = resume(run, verbose=False)
    assert result.num_steps == 900


def test_resume_to_fewer_steps_is_refused_and_changes_nothing(tmp_path):
    run = tmp_path / "run"
    train_tiny(run, steps=600)
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = invoke("train", "--resume", str(run), "--steps", "600")
    assert result.exit_code == 2
    assert "already at 600 steps" in result.stderr and len(result.stderr.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resume_takes_no_other_options(tmp_path):
    result = invoke("train", "--resume", str(tmp_path), "--agent", "sarsa")
    assert result.exit_code == 2 and "--agent" in result.stderr


def test_resume_of_a_missing_run_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a run directory"):
        resume(tmp_path / "missing")


def test_interrupted_run_saves_a_checkpoint_and_resumes_from_it(tmp_path, monkeypatch):
    from training.logger import RunLogger

    on_step = RunLogger.on_step

    def interrupt_at_700(self, agent, num_steps):
        if num_steps == 700:
            raise KeyboardInterrupt
        return on_step(self, agent, num_steps)

    monkeypatch.setattr(RunLogger, "on_step", interrupt_at_700)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(
            env="palaestra/TinyGrid-v0",
            steps=1500,
            checkpoint_every=500,
            out=str(run),
            verbose=False,
        )
    monkeypatch.undo()
    assert QLearning.load(run / "checkpoints" / "last.npz").num_steps == 700
    steps = [int(r["step"]) for r in rows(run)]
    assert steps[-1] <= 700  # rows up to the interrupt are on disk

    result = resume(run, verbose=False)
    assert result.num_steps == 1500
    after = rows(run)
    assert [int(r["episode"]) for r in after] == list(range(1, len(after) + 1))
