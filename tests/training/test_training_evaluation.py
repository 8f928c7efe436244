"""``training.evaluate``: the figures behind eval.json."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from training.evaluation import evaluate


class CountdownEnv(gym.Env):
    """Episode ``i`` (reset seed) lasts ``1 + seed % 3`` steps and reports a made-up ratio
    (NaN for seed 3) under the name it lists in ``metadata["eval_metrics"]``."""

    metadata = {"eval_metrics": ("ratio", "absent")}
    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.seed_used = seed
        self.left = 1 + seed % 3
        return 0, {}

    def step(self, action: int):
        self.left -= 1
        done = self.left == 0
        info: dict[str, Any] = {"is_success": done}
        if done:
            info["ratio"] = float("nan") if self.seed_used == 3 else 1.0 + self.seed_used
        return 0, 1.0, done, False, info


class Zero:
    """Only what evaluation uses of an Agent: ``act``."""

    def act(self, obs: Any, deterministic: bool = True) -> int:
        return 0


def test_env_named_metrics_are_averaged_over_episodes_with_a_finite_value() -> None:
    env = CountdownEnv()
    result = evaluate(Zero(), env, episodes=4, seed=0)
    assert result["mean_length"] == pytest.approx(np.mean([1, 2, 3, 1]))
    assert result["success_rate"] == 1.0
    assert result["mean_ratio"] == pytest.approx(np.mean([1.0, 2.0, 3.0]))  # seed 3's NaN left out
    assert "mean_absent" not in result
