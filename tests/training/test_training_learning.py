"""The default `palaestra train` (GridWorld + q_learning) learns the exact optimum."""

from __future__ import annotations

import gymnasium as gym
import pytest

from agents.tabular import ValueIteration
from training import TrainConfig, evaluate, evaluate_run, train


def optimum(env_id: str) -> float:
    """Greedy return of value iteration's policy (the env and its start are deterministic)."""
    env = gym.make(env_id)
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, 0)
    return evaluate(planner, env, episodes=1)["mean_return"]


def test_default_run_learns_the_value_iteration_optimum(tmp_path):
    defaults = TrainConfig()
    assert (defaults.env, defaults.agent) == ("palaestra/GridWorld-v0", "q_learning")
    result = train(out=str(tmp_path / "run"), verbose=False)  # the default config, all of it
    best = optimum(defaults.env)
    assert best == pytest.approx(0.9)  # 10 steps at -0.01, +1 at the goal
    assert result.eval["mean_return"] == pytest.approx(best)
    assert result.eval["success_rate"] == 1.0
    assert evaluate_run(result.run_dir, episodes=3)["mean_return"] == pytest.approx(best)
