"""Checkpoints are atomic; metrics.csv grows columns and is cut back on resume."""

from __future__ import annotations

import csv

import gymnasium as gym
import numpy as np
import pytest
from training_support import RandomAgent, train_tiny

from agents.tabular import QLearning
from training.checkpoints import find_checkpoint, save_checkpoint
from training.metrics import MetricsFile


class Crash(Exception):
    pass


def test_crash_inside_the_agents_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train_tiny(run, steps=500)
    last = run / "checkpoints" / "last.npz"
    before = last.read_bytes()
    agent = QLearning.load(last)
    agent.q[:] = 123.0
    agent.num_steps = 999

    def crashing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # bytes already on disk when the crash comes
        raise Crash

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(Crash):
        save_checkpoint(agent, run)
    monkeypatch.undo()

    assert last.read_bytes() == before
    assert QLearning.load(last).num_steps == 500
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.npz", "step_500.npz"]


def test_checkpoint_suffix_is_the_agents_choice(tmp_path):
    agent = RandomAgent(gym.spaces.Discrete(3), gym.spaces.Discrete(2), seed=1)
    agent.num_steps = 7
    path = save_checkpoint(agent, tmp_path, "last")
    assert path == tmp_path / "checkpoints" / "last.json"  # declared checkpoint_suffix
    assert find_checkpoint(tmp_path) == path
    assert RandomAgent.load(path).num_steps == 7


def test_metrics_file_grows_columns_and_truncates(tmp_path):
    path = tmp_path / "metrics.csv"
    metrics = MetricsFile(path)
    metrics.append({"step": 5, "episode": 1, "return": 0.5, "length": 5, "success": False})
    metrics.append(
        {"step": 9, "episode": 2, "return": 1.0, "length": 4, "success": True, "epsilon": 0.25}
    )
    metrics.append(
        {"step": 12, "episode": 3, "return": -1.0, "length": 3, "success": False, "epsilon": 0.125}
    )
    metrics.close()
    assert path.read_text() == (
        "step,episode,return,length,success,epsilon\n"
        "5,1,0.5,5,0,\n"
        "9,2,1.0,4,1,0.25\n"
        "12,3,-1.0,3,0,0.125\n"
    )
    reopened = MetricsFile(path)
    reopened.truncate_after(9)
    assert reopened.last_episode == 2
    assert [r["step"] for r in csv.DictReader(path.open())] == ["5", "9"]


def test_a_diagnostic_first_reported_mid_run_becomes_a_column(tmp_path, monkeypatch):
    from agents import registry
    from training import train

    monkeypatch.setitem(registry.AGENTS, "random_test", "training_support:RandomAgent")
    result = train(
        env="palaestra/TinyGrid-v0",
        agent="random_test",
        steps=300,
        eval_episodes=1,
        out=str(tmp_path / "run"),
        verbose=False,
    )
    rows = list(csv.DictReader((result.run_dir / "metrics.csv").open()))
    assert [r["late_metric"] for r in rows[:3]] == ["", "", "3.0"]
    assert rows[-1]["late_metric"] == str(float(len(rows)))
    assert (result.run_dir / "checkpoints" / "last.json").is_file()
