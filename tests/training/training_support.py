"""Helpers and stand-ins shared by the training tests.

``RandomAgent`` is a minimal learner that exercises the parts of the agent contract the
real tabular agents do not: a declared ``checkpoint_suffix``, and a diagnostic that first
appears in the middle of a run (so ``metrics.csv`` must grow a column). ``NoRenderEnv`` is an
env without an ``rgb_array`` mode, for the "policy.gif skipped" path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import gymnasium as gym
import numpy as np
from click.testing import CliRunner, Result

from agents.base import Agent, Callback, EpisodeStats
from agents.common.io import atomic_write
from training.cli import cli

TINY = "palaestra/TinyGrid-v0"
TINY_OPTIMUM = 0.97  # 4 moves: 3 steps at -0.01, then +1 at the goal


def invoke(*args: str) -> Result:
    """Run ``palaestra ARGS`` in-process; stdout and stderr stay separate."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def train_tiny(out: Path, *extra: str, steps: int = 1500, seed: int = 0) -> Result:
    """A quiet q_learning run on TinyGrid (learns the optimum in ~1000 steps)."""
    result = invoke(
        "train",
        "--env",
        TINY,
        "--steps",
        str(steps),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--set",
        "eval_episodes=5",
        "--set",
        "checkpoint_every=500",
        "-q",
        *extra,
    )
    assert result.exit_code == 0, result.output
    return result


@dataclass(frozen=True)
class RandomAgentConfig:
    """No hyperparameters: the agent acts uniformly at random."""


class RandomAgent(Agent):
    """Acts at random from its own generator; reports ``late_metric`` from episode 3 on."""

    name = "random_test"
    config_class = RandomAgentConfig
    checkpoint_suffix = ".json"

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: Any = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        self.rng = np.random.default_rng(seed)
        self.episodes = 0

    def act(self, obs: Any, deterministic: bool = True) -> Any:
        return int(self.rng.integers(self.action_space.n))

    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        callback = callback or Callback()
        env.reset(seed=self.seed if self.num_steps == 0 else None)
        ret, length = 0.0, 0
        while self.num_steps < total_steps:
            _, reward, terminated, truncated, info = env.step(self.act(None))
            self.num_steps += 1
            ret, length = ret + float(reward), length + 1
            if terminated or truncated:
                self.episodes += 1
                callback.on_episode_end(
                    self, EpisodeStats(self.num_steps, ret, length, bool(info.get("is_success")))
                )
                if self.episodes >= 3:
                    callback.on_update(self, {"late_metric": float(self.episodes)})
                env.reset()
                ret, length = 0.0, 0
            if not callback.on_step(self, self.num_steps):
                break

    def _write(self, f: BinaryIO) -> None:
        state = {"num_steps": self.num_steps, "seed": self.seed, "n": int(self.action_space.n)}
        f.write(json.dumps(state).encode())

    def save(self, path: str | Path) -> Path:
        return atomic_write(path, self._write)

    @classmethod
    def load(cls, path: str | Path) -> RandomAgent:
        state = json.loads(Path(path).read_text())
        agent = cls(gym.spaces.Discrete(1), gym.spaces.Discrete(state["n"]), seed=state["seed"])
        agent.num_steps = state["num_steps"]
        return agent


class NoRenderEnv(gym.Env):
    """Five steps of reward 1, then the episode ends. Cannot render."""

    metadata = {"render_modes": []}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = gym.spaces.Discrete(6)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        self.t += 1
        return self.t, 1.0, self.t >= 5, False, {}


NO_RENDER_ID = "palaestra_test/NoRender-v0"
if NO_RENDER_ID not in gym.registry:
    gym.register(NO_RENDER_ID, entry_point=NoRenderEnv, max_episode_steps=20)
