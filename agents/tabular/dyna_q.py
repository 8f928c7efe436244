"""Dyna-Q (Sutton 1990; Sutton & Barto 2018, section 8.2): Q-learning plus replayed model."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.tabular.q_learning import QLearning, QLearningConfig


@dataclass(frozen=True)
class DynaQConfig(QLearningConfig):
    """Dyna-Q hyperparameters: Q-learning's plus the amount of planning."""

    planning_steps: int = 10
    """Simulated Q-learning updates from the learned model after each real step (n)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.planning_steps < 0:
            raise ValueError(f"planning_steps must be >= 0, got {self.planning_steps}")


class DynaQ(QLearning):
    """After each real update, replays ``planning_steps`` remembered transitions.

    The model maps each observed (s, a) to its last seen (r, s', terminated): exact for
    deterministic envs and, as in Sutton & Barto, a sample for stochastic ones. Planning
    picks observed pairs uniformly with the agent's generator and applies the very update
    used for real experience, so the two can never drift apart.
    """

    name = "dyna_q"
    config_class = DynaQConfig
    config: DynaQConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DynaQConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        # Python containers, not arrays: planning reads one entry at a time, where lists and
        # dicts are several times faster than numpy scalar indexing.
        self._model: dict[int, tuple[float, int, bool]] = {}  # s * A + a -> (r, s', term)
        self._observed: list[int] = []  # keys of _model in first-seen order, for sampling

    def update(self, s: int, a: int, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        td_error = super().update(s, a, r, s2, a2, terminated)
        key = s * self.n_actions + a
        if key not in self._model:
            self._observed.append(key)
        self._model[key] = (r, s2, terminated)
        self.plan(self.config.planning_steps)
        return td_error

    def plan(self, n: int) -> None:
        """Apply ``n`` Q-learning updates to transitions drawn from the model."""
        learn_from = super().update
        model, observed, n_actions = self._model, self._observed, self.n_actions
        count = len(observed)
        draw = self.rng.random
        for _ in range(n):
            key = observed[min(int(draw() * count), count - 1)]
            r, s2, terminated = model[key]
            learn_from(key // n_actions, key % n_actions, r, s2, None, terminated)

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        entries = [self._model[key] for key in self._observed]
        return {
            "model_key": np.array(self._observed, dtype=np.int64),
            "model_reward": np.array([e[0] for e in entries], dtype=np.float64),
            "model_next_state": np.array([e[1] for e in entries], dtype=np.int64),
            "model_terminated": np.array([e[2] for e in entries], dtype=bool),
        }

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        keys = arrays["model_key"].tolist()
        rewards = arrays["model_reward"].tolist()
        next_states = arrays["model_next_state"].tolist()
        terminals = arrays["model_terminated"].tolist()
        # strict: arrays of different lengths mean a damaged file (ValueError for load).
        entries = zip(keys, rewards, next_states, terminals, strict=True)
        self._model = {key: (r, s2, t) for key, r, s2, t in entries}
        self._observed = keys
