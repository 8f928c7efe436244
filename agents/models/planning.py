"""Planning by model rollouts: random shooting and the cross-entropy method over action
sequences, and :class:`ModelPredictiveAgent`, which plans with a dynamics ensemble it
learns from its own experience and acts in the real env (model-predictive control).

A plan scores each candidate action sequence by its predicted return from the current
observation, averaged over the ensemble's members (each member rolls the sequence out on
its own, as PETS's trajectory sampling does), and takes the first action of the best one;
the next step plans again from the real observation. Predicted termination is a
probability, so a step's reward counts in proportion to the chance of still being alive
(exactly "termination stops the return" for a model that is sure).

Discrete actions only. The cross-entropy method keeps, for each step of the horizon, a
categorical distribution over actions; each iteration samples ``n_candidates`` sequences,
keeps the best ``elite_fraction`` of them and moves the distributions towards the elites'
action frequencies. Random shooting is its first iteration: uniform sequences, best one
wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import nn
from torch.nn import functional as F

from agents.base import Callback
from agents.common.torch_utils import torch_threads
from agents.common.vector import EpisodeTracker, as_vector_env, final_observations
from agents.deep.base import TorchAgent
from agents.models.dynamics import DynamicsEnsemble, Prediction
from agents.models.model_learning import ModelLearner, ModelLearningConfig

PLANNERS = ("cem", "random_shooting")


class WorldModel(Protocol):
    """What a planner needs of a model: open-loop rollouts of every member."""

    n_actions: int

    def imagine(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        """(K, B, H, ...) predictions of K members for (B, obs_dim) starts and (B, H)
        action indices (see :meth:`~agents.models.dynamics.DynamicsEnsemble.imagine`)."""
        ...


def imagined_returns(rewards: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """``sum_t gamma^t * P(alive before step t) * r_t`` over the last axis: rewards and
    termination probabilities of imagined steps, (..., H), to returns (...)."""
    alive = torch.cumprod(1.0 - terminated, dim=-1)
    before = torch.cat([torch.ones_like(alive[..., :1]), alive[..., :-1]], dim=-1)
    discounts = gamma ** torch.arange(rewards.shape[-1], device=rewards.device, dtype=rewards.dtype)
    return (rewards * before * discounts).sum(-1)


def sequence_returns(
    model: WorldModel, obs: torch.Tensor, sequences: torch.Tensor, gamma: float
) -> torch.Tensor:
    """(B, N) predicted returns of N action sequences (B, N, H) from each of B observations
    (B, obs_dim), averaged over the model's members."""
    b, n, h = sequences.shape
    starts = obs.repeat_interleave(n, dim=0)
    pred = model.imagine(starts, sequences.reshape(b * n, h))
    return imagined_returns(pred.rewards, pred.terminated, gamma).mean(0).view(b, n)


def cross_entropy_method(
    model: WorldModel,
    obs: torch.Tensor,
    horizon: int,
    n_candidates: int,
    rng: np.random.Generator,
    *,
    iterations: int = 3,
    elite_fraction: float = 0.1,
    smoothing: float = 0.1,
    gamma: float = 0.99,
) -> tuple[torch.Tensor, torch.Tensor]:
    """First actions (B,) of the best sequences found for (B, obs_dim) observations, and
    their predicted returns (B,). ``smoothing`` is the weight of the old distribution in
    each refit (0: the elites' frequencies alone). Candidates are drawn with ``rng``."""
    b, a = len(obs), model.n_actions
    probs = torch.full((b, horizon, a), 1.0 / a, device=obs.device)
    n_elite = max(1, round(elite_fraction * n_candidates))
    best_score = torch.full((b,), -torch.inf, device=obs.device)
    best_action = torch.zeros(b, dtype=torch.int64, device=obs.device)
    rows = torch.arange(b, device=obs.device)
    for _ in range(iterations):
        sequences = _sample_sequences(probs, n_candidates, rng)
        scores = sequence_returns(model, obs, sequences, gamma)
        top, top_index = scores.max(dim=1)
        better = top > best_score
        best_score = torch.where(better, top, best_score)
        best_action = torch.where(better, sequences[rows, top_index, 0], best_action)
        elites = sequences.gather(
            1, scores.topk(n_elite, dim=1).indices[..., None].expand(-1, -1, horizon)
        )
        frequencies = F.one_hot(elites, a).float().mean(1)
        probs = smoothing * probs + (1.0 - smoothing) * frequencies
    return best_action, best_score


def random_shooting(
    model: WorldModel,
    obs: torch.Tensor,
    horizon: int,
    n_candidates: int,
    rng: np.random.Generator,
    *,
    gamma: float = 0.99,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`cross_entropy_method`'s first iteration: ``n_candidates`` uniformly random
    sequences, the first action of the best one (and its predicted return)."""
    return cross_entropy_method(model, obs, horizon, n_candidates, rng, iterations=1, gamma=gamma)


def _sample_sequences(probs: torch.Tensor, n: int, rng: np.random.Generator) -> torch.Tensor:
    """(B, n, H) action indices, step t of each drawn from ``probs[:, t]`` (B, H, A), by
    inverting the cumulative distribution at uniform numbers from ``rng``."""
    b, h, _ = probs.shape
    u = torch.as_tensor(rng.random((b, n, h)), dtype=probs.dtype, device=probs.device)
    cdf = probs.cumsum(-1)[:, None]  # (B, 1, H, A)
    index = (cdf < u[..., None]).sum(-1)
    return index.clamp(max=probs.shape[-1] - 1)  # rounding can leave cdf[-1] below u


@dataclass(frozen=True)
class ModelPredictiveConfig(ModelLearningConfig):
    """Planner settings, and the model's (``model_*``; ``model_starts`` steps of random
    actions come first)."""

    planner: str = "cem"
    """``"cem"`` (cross-entropy method) or ``"random_shooting"``."""
    horizon: int = 15
    """Model steps each candidate action sequence looks ahead."""
    n_candidates: int = 200
    """Action sequences scored per planning iteration."""
    cem_iterations: int = 3
    """Sample-score-refit rounds of the cross-entropy method (random shooting does one)."""
    elite_fraction: float = 0.1
    """Share of the candidates the cross-entropy method refits its distributions to."""
    cem_smoothing: float = 0.1
    """Weight of the previous distribution in each refit: above 0, no action's probability
    ever drops to zero within one plan."""
    gamma: float = 0.99
    """Discount of predicted rewards within the horizon."""
    buffer_size: int = 100_000
    """Real transitions kept for refitting the model (the oldest are overwritten)."""
    torch_threads: int | None = 1
    """Intra-op CPU threads while learning and acting (None: torch's default)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.planner not in PLANNERS:
            raise ValueError(
                f"unknown planner {self.planner!r}; valid planners: {', '.join(PLANNERS)}"
            )
        checks = (
            ("horizon", self.horizon >= 1, ">= 1"),
            ("n_candidates", self.n_candidates >= 1, ">= 1"),
            ("cem_iterations", self.cem_iterations >= 1, ">= 1"),
            ("elite_fraction", 0.0 < self.elite_fraction <= 1.0, "in (0, 1]"),
            ("cem_smoothing", 0.0 <= self.cem_smoothing < 1.0, "in [0, 1)"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "in [0, 1]"),
            ("buffer_size", self.buffer_size >= 1, ">= 1"),
            ("torch_threads", self.torch_threads is None or self.torch_threads >= 1, ">= 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")


class ModelPredictiveAgent(TorchAgent):
    """Model-predictive control with a learned dynamics ensemble (see the module
    docstring): random actions for ``model_starts`` steps, then plans every step, refitting
    the model every ``model_train_freq`` steps. Flat observations, Discrete actions."""

    name = "model_predictive"
    config_class = ModelPredictiveConfig
    config: ModelPredictiveConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: ModelPredictiveConfig | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, config, seed)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(
                f"ModelPredictiveAgent needs a Discrete action space, got {action_space}"
            )
        self.n_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        cfg = self.config
        self.model = ModelLearner(
            observation_space, self.n_actions, cfg, cfg.buffer_size, self.device, seed
        )

    @property
    def dynamics(self) -> DynamicsEnsemble:
        """The learned :class:`~agents.models.dynamics.DynamicsEnsemble`."""
        return self.model.model

    # ------------------------------------------------------------------ TorchAgent
    def state_modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"dynamics": self.model.model}

    def extra_state(self) -> dict[str, Any]:
        return self.model.state()

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        self.model.load_state(extra)

    def policy_action(
        self, obs: Any, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        """The planner's first actions for a batch of observations (candidates are drawn
        with the agent's generator, so a saved and loaded agent plans alike)."""
        if mask is not None:
            raise ValueError("ModelPredictiveAgent does not support action masks")
        return self.plan(obs) + self.action_start

    def plan(self, obs: torch.Tensor) -> torch.Tensor:
        """Action indices (from 0) for a batch of observations on the device."""
        cfg = self.config
        obs = obs.float()
        if cfg.planner == "random_shooting":
            actions, _ = random_shooting(
                self.model.model, obs, cfg.horizon, cfg.n_candidates, self.rng, gamma=cfg.gamma
            )
        else:
            actions, _ = cross_entropy_method(
                self.model.model,
                obs,
                cfg.horizon,
                cfg.n_candidates,
                self.rng,
                iterations=cfg.cem_iterations,
                elite_fraction=cfg.elite_fraction,
                smoothing=cfg.cem_smoothing,
                gamma=cfg.gamma,
            )
        return actions

    # ------------------------------------------------------------------ learning
    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Act (random until ``model_starts``, then planning) and refit the model until
        ``total_steps``. ``on_update`` reports each refit (model_loss, model_fits). The
        recorded transitions live as long as the agent object and are not saved."""
        if self.num_steps >= total_steps:
            return
        callback = callback if callback is not None else Callback()
        venv = as_vector_env(env)
        try:
            self.check_env_spaces(venv)
            with torch_threads(self._act_threads):
                self._learn(venv, total_steps, callback)
        finally:
            if venv is not env:
                venv.close()

    def _learn(self, venv: VectorEnv, total_steps: int, callback: Callback) -> None:
        n_envs = venv.num_envs
        tracker = EpisodeTracker(n_envs)
        obs, _ = venv.reset(seed=self.seed if self.num_steps == 0 else None)
        while self.num_steps < total_steps:
            if self.model.ready:
                with torch.no_grad():
                    obs_t = torch.as_tensor(obs, device=self.device)
                    actions = self.plan(obs_t).cpu().numpy()
            else:
                actions = self.rng.integers(0, self.n_actions, n_envs)
            next_obs, rewards, terminated, truncated, info = venv.step(actions + self.action_start)
            done = terminated | truncated
            self.model.record(
                obs, actions, rewards, final_observations(next_obs, info, done), terminated
            )
            self.num_steps += n_envs
            tracker.step(rewards, done, info, self.num_steps, self, callback)
            if self.model.due(self.num_steps):
                callback.on_update(self, self.model.refit(self.num_steps, self.rng))
            obs = next_obs
            if not callback.on_step(self, self.num_steps):
                break
