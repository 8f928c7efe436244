"""DynaDQN: DQN whose updates also learn from transitions a learned model imagines.

Dyna (Sutton 1990) for a deep Q-learner, in the form MBPO (Janner et al., 2019) gives it:
every ``model_train_freq`` steps (after ``model_starts``) the agent refits its
:class:`~agents.models.dynamics.DynamicsEnsemble` on the real transitions it has seen, then
branches ``rollout_batch_size`` short rollouts (``rollout_length`` model steps, one by
default) from real states drawn from its replay, acting epsilon-greedily with its current
Q-network, each step predicted by a member drawn at random. The imagined transitions go to
a replay of their own; each update batch takes ``real_ratio`` of its rows from the real
replay and the rest from the imagined one.

Short branches are MBPO's answer to compounding model error: a one-step prediction from a
real state is nearly as good as real data where the model is good, while long rollouts
drift away from anything real. Everything else is DQN (see :mod:`agents.deep.dqn`),
through two hooks it provides: :meth:`~agents.deep.dqn.DQN.after_env_step` and
:meth:`~agents.deep.dqn.DQN.sample_replay`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.base import Callback
from agents.common.replay import ReplayBatch, ReplayBuffer
from agents.deep.dqn import DQN, DQNConfig
from agents.models.dynamics import pick_members
from agents.models.model_learning import ModelLearner, ModelLearningConfig


@dataclass(frozen=True)
class DynaDQNConfig(DQNConfig, ModelLearningConfig):
    """DQN settings (defaults: RL Zoo's CartPole-v1 DQN), the model's (``model_*``), and
    how imagined transitions are made and mixed in."""

    rollout_batch_size: int = 1_024
    """Imagined rollouts branched after each refit, each from a real state drawn uniformly
    from the replay (MBPO's M)."""
    rollout_length: int = 1
    """Model steps per rollout (MBPO's k); a rollout stops early where the model predicts
    termination (probability above one half). Imagined transitions are folded over up to
    ``n_step`` steps as the real ones are, so a rollout as long as ``n_step`` gives them
    the same reach."""
    model_buffer_size: int = 10_000
    """Capacity of the replay of imagined transitions; the oldest are overwritten, so
    updates draw from the rollouts of the last few refits (MBPO keeps a few epochs')."""
    real_ratio: float = 0.5
    """Share of each update batch drawn from real transitions; the rest is imagined. While
    no imagined transition exists, batches are all real."""

    def __post_init__(self) -> None:
        DQNConfig.__post_init__(self)
        ModelLearningConfig.__post_init__(self)
        checks = (
            ("rollout_batch_size", self.rollout_batch_size >= 1, ">= 1"),
            ("rollout_length", self.rollout_length >= 1, ">= 1"),
            ("model_buffer_size", self.model_buffer_size >= 1, ">= 1"),
            ("real_ratio", 0.0 <= self.real_ratio <= 1.0, "in [0, 1]"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def batch_split(self) -> tuple[int, int]:
        """(real, imagined) rows of each update batch."""
        real = round(self.batch_size * self.real_ratio)
        return real, self.batch_size - real


class DynaDQN(DQN):
    """DQN plus a learned dynamics ensemble whose short rollouts from real states feed the
    updates (see the module docstring). Flat observations (a rank-1 Box) only, no action
    masks.

    Counters: ``imagined_added`` transitions the model has produced, ``imagined_sampled``
    of them drawn into update batches; ``model.fits`` refits so far.
    """

    name = "dyna_dqn"
    config_class = DynaDQNConfig
    config: DynaDQNConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: DynaDQNConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        cfg = self.config
        self.model = ModelLearner(
            observation_space, self.n_actions, cfg, cfg.buffer_size, self.device, seed
        )
        self.model_buffer = ReplayBuffer(cfg.model_buffer_size, observation_space, gamma=cfg.gamma)
        self.imagined_added = 0
        self.imagined_sampled = 0

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {**super().state_modules(), "dynamics": self.model.model}

    def extra_state(self) -> dict[str, Any]:
        return {
            **super().extra_state(),
            **self.model.state(),
            "imagined_added": self.imagined_added,
            "imagined_sampled": self.imagined_sampled,
        }

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.model.load_state(extra)
        self.imagined_added = int(extra["imagined_added"])
        self.imagined_sampled = int(extra["imagined_sampled"])

    # ------------------------------------------------------------------ DQN hooks
    def after_env_step(
        self,
        obs: Any,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: Any,
        terminated: np.ndarray,
        callback: Callback,
    ) -> None:
        """Record the real step for the model; when a refit is due, refit and imagine."""
        if self.buffer is not None and self.buffer.next_masks is not None:
            raise ValueError("DynaDQN does not support action masks (its model has none)")
        self.model.record(obs, actions, rewards, next_obs, terminated)
        if self.model.due(self.num_steps):
            metrics = self.model.refit(self.num_steps, self.rng)
            metrics["imagined"] = float(self.imagine(self.config.rollout_batch_size))
            callback.on_update(self, metrics)

    def sample_replay(self, buffer: ReplayBuffer, n: int) -> ReplayBatch:
        """Each batch of ``n``: ``real_ratio`` of its rows real, the rest imagined."""
        n_real, n_imagined = self.config.batch_split()
        if n_imagined == 0 or len(self.model_buffer) == 0:
            return super().sample_replay(buffer, n)
        batches = n // self.config.batch_size
        imagined = self.model_buffer.sample(batches * n_imagined, self.rng, self.device)
        self.imagined_sampled += batches * n_imagined
        if n_real == 0:
            return imagined
        real = buffer.sample(batches * n_real, self.rng, self.device)
        return interleave(real, imagined, batches)

    # ------------------------------------------------------------------ imagination
    def imagine(self, n: int) -> int:
        """Branch ``n`` rollouts from real states and add their transitions to the
        imagined replay; returns how many transitions were added.

        Each imagined step starts a transition folded over up to ``n_step`` steps, as the
        real replay's are (fewer where the rollout ends or the model predicts termination;
        a rollout's last steps bootstrap from its last state, as a time limit does)."""
        cfg = self.config
        data, model = self.model.data, self.model.model
        states = [data.obs[self.rng.integers(0, len(data), n)]]
        actions, rewards, ends = [], [], []
        alive = [np.ones(n, dtype=bool)]  # rollouts that have not terminated before step t
        for _ in range(cfg.rollout_length):
            taken = self._explore(states[-1], None, self.exploration_rate)
            pred = model.step(
                torch.as_tensor(states[-1], dtype=torch.float32, device=self.device),
                torch.as_tensor(taken, device=self.device),
            )
            members = torch.as_tensor(self.rng.integers(0, model.ensemble_size, n))
            next_obs, reward, p_end = (pick_members(x, members).cpu().numpy() for x in pred)
            states.append(next_obs.astype(data.obs.dtype))
            actions.append(taken)
            rewards.append(reward)
            ends.append(p_end > 0.5)
            alive.append(alive[-1] & ~ends[-1])
            if not alive[-1].any():
                break
        all_states = np.stack(states)
        added = 0
        for t in range(len(actions)):
            rows = np.flatnonzero(alive[t])
            returns, discounts, last, ended = self._fold(t, rows, rewards, ends)
            self.model_buffer.add_transitions(
                all_states[t, rows],
                actions[t][rows],
                returns,
                all_states[last + 1, rows],
                ended,
                discounts,
            )
            added += len(rows)
        self.imagined_added += added
        return added

    def _fold(
        self, t: int, rows: np.ndarray, rewards: list[np.ndarray], ends: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(discounted reward sums, gamma ** steps, index of the last step, terminated) of
        the transitions that start at imagined step ``t`` in ``rows``."""
        gamma = self.config.gamma
        returns = np.zeros(len(rows))
        discounts = np.ones(len(rows))
        last = np.full(len(rows), t)
        ended = np.zeros(len(rows), dtype=bool)
        for j in range(t, min(t + self.config.n_step, len(rewards))):
            going = ~ended
            returns[going] += discounts[going] * rewards[j][rows][going]
            discounts[going] *= gamma
            last[going] = j
            ended[going] = ends[j][rows][going]
        return returns, discounts, last, ended


def interleave(first: ReplayBatch, second: ReplayBatch, batches: int) -> ReplayBatch:
    """``batches`` batches, each the next rows of ``first`` followed by the next rows of
    ``second`` (both hold ``batches`` times their share of rows)."""
    fields = {}
    for field in dataclasses.fields(ReplayBatch):
        a, b = getattr(first, field.name), getattr(second, field.name)
        if a is None or b is None:
            if (a is None) != (b is None):
                raise ValueError(f"cannot mix batches where only one has {field.name}")
            fields[field.name] = None
            continue
        parts = [x.reshape(batches, -1, *x.shape[1:]) for x in (a, b)]
        fields[field.name] = torch.cat(parts, dim=1).flatten(0, 1)
    return ReplayBatch(**fields)
