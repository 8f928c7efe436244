"""DynaDQN: DQN whose updates also learn from transitions a learned model imagines.

Dyna (Sutton 1990) for a deep Q-learner, in the form MBPO (Janner et al., 2019) gives it:
every ``model_train_freq`` steps (after ``model_starts``) the agent refits its
:class:`~agents.models.dynamics.DynamicsEnsemble` on the real transitions it has seen, and
every ``rollout_freq`` steps it branches ``rollout_batch_size`` short rollouts
(``rollout_length`` model steps) from real states drawn from its replay, acting
epsilon-greedily with its current Q-network, each step predicted by a member drawn at
random. The imagined transitions go to a replay of their own; each update batch takes
``real_ratio`` of its rows from the real replay and the rest from the imagined one.

Three choices matter, each measured on CartPole (``benchmarks/world_models.py``,
``benchmarks/RESULTS.md``):

- Fresh imagination. Rollouts branched only at each refit (every 250 steps) into a replay
  of 10k rows left the imagined half of every batch lagging the real replay; even exact
  copies of real transitions fed through that path nearly doubled the steps to solve. Rounds
  every 64 steps keep it as fresh as the real one.
- Folds as long as the real ones. DQN here learns from 3-step returns; one-step imagined
  transitions, even from a perfect model, slow the spread of value along the episode (a
  refreshed target network moves it one step per update instead of three). A rollout is
  as long as ``n_step`` and adds its first step folded over all of it; later steps only
  where their fold is as long (or ends in a termination).
- Extra updates, not fewer real rows. By default each update takes twice DQN's gradient
  steps with half of every batch imagined: as many real rows as plain DQN learns from,
  plus as many imagined ones.

Short branches are MBPO's answer to compounding model error: a prediction from a real
state is nearly as good as real data where the model is good, while long rollouts drift
away from anything real. Everything else is DQN (see :mod:`agents.deep.dqn`), through two
hooks it provides: :meth:`~agents.deep.dqn.DQN.after_env_step` and
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
    """DQN settings (defaults: RL Zoo's CartPole-v1 DQN, but twice its gradient steps), the
    model's (``model_*``), and how imagined transitions are made and mixed in."""

    gradient_steps: int = 256
    """Gradient steps per update: twice DQN's default, so that with ``real_ratio`` 0.5 each
    update learns from as many real rows as plain DQN's and as many imagined ones again."""
    rollout_batch_size: int = 256
    """Imagined rollouts branched every ``rollout_freq`` steps once the model is fitted,
    each from a real state drawn uniformly from the replay (MBPO's M)."""
    rollout_freq: int = 64
    """Environment steps between two rounds of imagined rollouts (MBPO branches every
    step). Rounds more frequent than refits keep the imagined replay as fresh as the real
    one: rounds only at refits (every 250 steps) cost CartPole twice the steps."""
    rollout_length: int = 3
    """Model steps per rollout (MBPO's k); a rollout stops early where the model predicts
    termination (probability above one half). Imagined transitions are folded over
    ``n_step`` steps as the real ones are: a rollout adds its first step (from a real
    state) and each later step whose fold is complete, so ``n_step`` steps (the default)
    give one transition per rollout as far-reaching as a real one. Shorter rollouts give
    shorter folds (one step: plain one-step transitions)."""
    model_buffer_size: int = 10_000
    """Capacity of the replay of imagined transitions; the oldest are overwritten, so
    updates draw from the rollouts of the last few thousand steps (MBPO keeps a few
    epochs')."""
    real_ratio: float = 0.5
    """Share of each update batch drawn from real transitions; the rest is imagined. While
    no imagined transition exists, batches are all real."""
    max_disagreement: float | None = 0.05
    """Imagined steps whose ensemble members disagree by more than this
    (:meth:`~agents.models.dynamics.DynamicsEnsemble.disagreement`: spread in units of the
    real data's) are dropped and end their rollout, as a time limit would; None keeps
    every step (MBPO's rule). On GridWorld (coords) after 4k steps, 0.05 cut wrong next
    cells among imagined steps from 2.9 % to 0.5 % and wrong terminations to none, keeping
    two thirds of the steps; on CartPole it keeps about 94 %."""
    logged_first_action: bool = False
    """Take a rollout's first action from the real transition its start state comes from
    (the first step re-simulates logged experience, later ones follow the policy)."""
    rollout_epsilon: float | None = None
    """Exploration rate of the actions taken in imagined rollouts; None follows the agent's
    own epsilon schedule."""

    def __post_init__(self) -> None:
        DQNConfig.__post_init__(self)
        ModelLearningConfig.__post_init__(self)
        checks = (
            ("rollout_batch_size", self.rollout_batch_size >= 1, ">= 1"),
            ("rollout_length", self.rollout_length >= 1, ">= 1"),
            ("rollout_freq", self.rollout_freq >= 1, ">= 1"),
            ("model_buffer_size", self.model_buffer_size >= 1, ">= 1"),
            ("real_ratio", 0.0 <= self.real_ratio <= 1.0, "in [0, 1]"),
            (
                "max_disagreement",
                self.max_disagreement is None or self.max_disagreement >= 0.0,
                "None or >= 0",
            ),
            (
                "rollout_epsilon",
                self.rollout_epsilon is None or 0.0 <= self.rollout_epsilon <= 1.0,
                "None or in [0, 1]",
            ),
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
        self.last_imagined_step: int | None = None  # environment steps at the last round

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {**super().state_modules(), "dynamics": self.model.model}

    def extra_state(self) -> dict[str, Any]:
        return {
            **super().extra_state(),
            **self.model.state(),
            "imagined_added": self.imagined_added,
            "imagined_sampled": self.imagined_sampled,
            "last_imagined_step": self.last_imagined_step,
        }

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.model.load_state(extra)
        self.imagined_added = int(extra["imagined_added"])
        self.imagined_sampled = int(extra["imagined_sampled"])
        last = extra.get("last_imagined_step")  # absent from checkpoints of older versions
        self.last_imagined_step = None if last is None else int(last)

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
        """Record the real step for the model; refit it when due, and branch a round of
        imagined rollouts when one is due."""
        if self.buffer is not None and self.buffer.next_masks is not None:
            raise ValueError("DynaDQN does not support action masks (its model has none)")
        self.model.record(obs, actions, rewards, next_obs, terminated)
        metrics = (
            self.model.refit(self.num_steps, self.rng) if self.model.due(self.num_steps) else {}
        )
        last = self.last_imagined_step
        if self.model.ready and (last is None or self.num_steps - last >= self.config.rollout_freq):
            metrics["imagined"] = float(self.imagine(self.config.rollout_batch_size))
            self.last_imagined_step = self.num_steps
        if metrics:
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
        real replay's are (fewer where the rollout ends: the model predicts termination, or
        the next step is not trusted; a rollout's last steps bootstrap from its last state,
        as a time limit does)."""
        cfg = self.config
        data, model = self.model.data, self.model.model
        starts = self.rng.integers(0, len(data), n)
        states = [data.obs[starts]]
        actions, rewards, ends, trusted = [], [], [], []
        running = np.ones(n, dtype=bool)  # no termination and no untrusted step so far
        epsilon = self.exploration_rate if cfg.rollout_epsilon is None else cfg.rollout_epsilon
        for k in range(cfg.rollout_length):
            if k == 0 and cfg.logged_first_action:
                taken = data.actions[starts].astype(np.int64)
            else:
                taken = self._explore(states[-1], None, epsilon)
            pred = model.step(
                torch.as_tensor(states[-1], dtype=torch.float32, device=self.device),
                torch.as_tensor(taken, device=self.device),
            )
            members = torch.as_tensor(self.rng.integers(0, model.ensemble_size, n))
            next_obs, reward, p_end = (pick_members(x, members).cpu().numpy() for x in pred)
            ok = running.copy()
            if cfg.max_disagreement is not None:
                ok &= model.disagreement(pred).cpu().numpy() <= cfg.max_disagreement
            states.append(next_obs.astype(data.obs.dtype))
            actions.append(taken)
            rewards.append(reward)
            ends.append(p_end > 0.5)
            trusted.append(ok)
            running = ok & ~ends[-1]
            if not running.any():
                break
        all_states = np.stack(states)
        added = 0
        for t in range(len(actions)):
            rows = np.flatnonzero(trusted[t])
            returns, discounts, last, ended = self._fold(t, rows, rewards, ends, trusted)
            if t > 0:  # later steps only where their fold is as long as the real ones
                full = ended | (last - t + 1 == cfg.n_step)
                rows, returns, discounts, last, ended = (
                    x[full] for x in (rows, returns, discounts, last, ended)
                )
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
        self,
        t: int,
        rows: np.ndarray,
        rewards: list[np.ndarray],
        ends: list[np.ndarray],
        trusted: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(discounted reward sums, gamma ** steps, index of the last step, terminated) of
        the transitions that start at imagined step ``t`` in ``rows`` (trusted there)."""
        gamma = self.config.gamma
        returns = np.zeros(len(rows))
        discounts = np.ones(len(rows))
        last = np.full(len(rows), t)
        ended = np.zeros(len(rows), dtype=bool)
        going = np.ones(len(rows), dtype=bool)
        for j in range(t, min(t + self.config.n_step, len(rewards))):
            going &= ~ended & trusted[j][rows]
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
