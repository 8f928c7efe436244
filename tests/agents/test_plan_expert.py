"""The scripted tool-use expert solves every task type with the plan's minimal calls, on
both interfaces, through the standard evaluation loop."""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.evaluation import run_episode
from agents.tooluse import PlanExpert
from envs.tooluse.world import TASK_TYPES


@pytest.mark.parametrize("env_id", ["palaestra/ToolUse-v0", "palaestra/ToolUseStructured-v0"])
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_the_expert_solves_each_task_type_with_the_fewest_calls(env_id: str, task_type: str):
    env = gym.make(env_id, task_types=[task_type], difficulty=3)
    expert = PlanExpert(env)
    for seed in range(10):
        result = run_episode(expert, env, seed=seed)
        info = result.info
        assert info["is_success"] and info["calls"] == info["min_calls"]
        assert info["invalid_calls"] == 0
        assert result.episode_return == pytest.approx(1.0 - 0.01 * info["min_calls"])


def test_an_env_without_a_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="expert_action"):
        PlanExpert(gym.make("CartPole-v1"))
