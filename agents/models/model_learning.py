"""How an agent learns a :class:`~agents.models.dynamics.DynamicsEnsemble` from its own
experience: the ``model_*`` settings, and :class:`ModelLearner`, which records the agent's
real one-step transitions and refits the ensemble on them every so many steps.

:class:`~agents.models.dyna_dqn.DynaDQN` and
:class:`~agents.models.planning.ModelPredictiveAgent` share both, so the two ways of using
a learned model train it the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.replay import ReplayBuffer
from agents.models.data import Transitions
from agents.models.dynamics import DynamicsConfig, DynamicsEnsemble
from agents.models.training import FitConfig, seeded


@dataclass(frozen=True)
class ModelLearningConfig:
    """The dynamics ensemble an agent learns, and when and on what it is refitted."""

    model_ensemble_size: int = 5
    """Members of the dynamics ensemble (each an MLP on its own bootstrap resample)."""
    model_hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of each member (MBPO's 200 x 4 is sized for MuJoCo; the flat
    observations here have a handful of features)."""
    model_learning_rate: float = 3e-3
    """Adam step size of the model's training (1e-3 left a GridWorld model wrong about
    17 % of the cells it predicted after 4k steps; 3e-3: 2.9 %)."""
    model_batch_size: int = 256
    """Transitions per gradient step of the model."""
    model_gradient_steps: int = 100
    """Gradient steps per refit (about: whole passes over a sample of the recorded
    transitions, ``model_gradient_steps * model_batch_size`` rows at most). A fixed budget
    keeps a refit's cost the same however much has been recorded, and lets a model fitted
    on little data still take enough steps to fit it. The weights carry over from refit
    to refit."""
    model_train_freq: int = 250
    """Environment steps between refits (MBPO's model training interval)."""
    model_starts: int = 1_000
    """Environment steps before the first refit; until then the model is not used."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_hidden", tuple(int(w) for w in self.model_hidden))
        checks = (
            ("model_ensemble_size", self.model_ensemble_size >= 1, ">= 1"),
            (
                "model_hidden",
                bool(self.model_hidden) and min(self.model_hidden) >= 1,
                "widths >= 1",
            ),
            ("model_learning_rate", 0 < self.model_learning_rate < math.inf, "a finite number > 0"),
            ("model_batch_size", self.model_batch_size >= 1, ">= 1"),
            ("model_gradient_steps", self.model_gradient_steps >= 1, ">= 1"),
            ("model_train_freq", self.model_train_freq >= 1, ">= 1"),
            ("model_starts", self.model_starts >= 1, ">= 1 (the first refit needs data)"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

    def dynamics_config(self) -> DynamicsConfig:
        """The ensemble's architecture."""
        return DynamicsConfig(ensemble_size=self.model_ensemble_size, hidden=self.model_hidden)


def transitions_from_replay(buffer: ReplayBuffer, rows: np.ndarray | None = None) -> Transitions:
    """The ``rows`` (default: all) of a one-step replay buffer as :class:`Transitions`
    (ring order, not time order; ``truncated`` is not stored and reads False)."""
    if buffer.n_step != 1:
        raise ValueError(
            f"the buffer folds {buffer.n_step}-step returns into its transitions; a dynamics "
            "model needs one-step transitions (a buffer with n_step=1)"
        )
    if isinstance(buffer.obs, dict):
        raise ValueError("a dynamics model reads flat observations, not Dict observations")
    rows = np.arange(len(buffer)) if rows is None else np.asarray(rows)
    return Transitions.of(
        buffer.obs[rows],
        buffer.actions[rows],
        buffer.rewards[rows],
        buffer.next_obs[rows],
        buffer.terminated[rows] > 0.5,
    )


class ModelLearner:
    """An agent's dynamics ensemble and the real one-step transitions it is fitted to.

    :meth:`record` keeps each real step (the newest ``capacity``); :meth:`due` says when
    the next refit is (``model_starts`` steps, then every ``model_train_freq``);
    :meth:`refit` trains the ensemble on a sample of what was recorded.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        n_actions: int,
        config: ModelLearningConfig,
        capacity: int,
        device: torch.device,
        seed: int | None = None,
    ) -> None:
        self.config = config
        self.seed = 0 if seed is None else int(seed)
        with seeded(self.seed):  # the model's weights do not depend on global state
            self.model = DynamicsEnsemble(observation_space, n_actions, config.dynamics_config())
        self.model.to(device).eval()
        self.data = ReplayBuffer(capacity, observation_space, n_step=1)
        self.fits = 0
        self.last_fit_step: int | None = None  # environment steps at the last refit

    def record(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
    ) -> None:
        """One vector step of real transitions (action indices from 0; ``next_obs`` the
        final observations where episodes ended)."""
        self.data.add(obs, actions, rewards, next_obs, terminated, np.zeros_like(terminated))

    @property
    def ready(self) -> bool:
        """Whether the model has been fitted at least once."""
        return self.fits > 0

    def due(self, num_steps: int) -> bool:
        """Whether a refit is due after ``num_steps`` environment steps."""
        cfg = self.config
        if num_steps < cfg.model_starts or len(self.data) == 0:
            return False
        return self.last_fit_step is None or num_steps - self.last_fit_step >= cfg.model_train_freq

    def refit(self, num_steps: int, rng: np.random.Generator) -> dict[str, float]:
        """About ``model_gradient_steps`` steps on a sample (drawn with ``rng``) of the
        recorded transitions; returns the metrics an update reports (model_loss: the last
        epoch's mean loss, model_fits: refits so far)."""
        cfg = self.config
        n = len(self.data)
        budget = cfg.model_gradient_steps * cfg.model_batch_size
        rows = None if n <= budget else rng.choice(n, budget, replace=False)
        fit = FitConfig(
            epochs=math.ceil(budget / min(n, budget)),
            batch_size=cfg.model_batch_size,
            learning_rate=cfg.model_learning_rate,
            seed=self.seed + self.fits,  # each refit shuffles and resamples differently
            device=str(self.model.device),
            torch_threads=None,  # the agent's learn() has set them
        )
        stats = self.model.fit(transitions_from_replay(self.data, rows), fit)
        self.fits += 1
        self.last_fit_step = num_steps
        return {"model_loss": stats.final_loss, "model_fits": float(self.fits)}

    def state(self) -> dict[str, Any]:
        """Counters a checkpoint keeps (the model's weights are saved as a module)."""
        return {"model_fits": self.fits, "model_last_fit_step": self.last_fit_step}

    def load_state(self, state: dict[str, Any]) -> None:
        self.fits = int(state["model_fits"])
        last = state["model_last_fit_step"]
        self.last_fit_step = None if last is None else int(last)
