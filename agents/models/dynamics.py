"""DynamicsEnsemble: a learned model of what one step does, for flat observations and
discrete actions.

Each of ``ensemble_size`` MLPs reads the observation (standardised with statistics fitted
on the training data) and the action (one-hot), and predicts the change of the observation
(standardised), the reward (standardised) and the logit of termination. Predicting the
change rather than the next observation is the usual choice (PETS, MBPO): most of the next
observation is the current one, and the change is what is hard to learn. Members are
deterministic; the ensemble's spread is the model's uncertainty, and rollouts can draw one
member per step and row as MBPO does. Each member trains on its own bootstrap resample of
the data, so the members disagree where the data says little.

Predicted observations are clipped to the observation space's finite bounds and, for an
integer space (a gridworld's ``coords``), rounded: a model of a discrete world then stays
in it over many steps instead of drifting between cells.

The members run as one :class:`~agents.common.networks.ParallelMLPs` (batched matrix
products), so a rollout step costs one forward pass whatever the ensemble size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.common.networks import ParallelMLPs
from agents.deep.base import space_from_json, space_to_json
from agents.models import training
from agents.models.checkpoint import load_module_state, save_module
from agents.models.data import Transitions
from agents.models.training import FitConfig, FitStats

KIND = "dynamics_ensemble"

# Standard deviations below this (a feature that never changes, CartPole's constant reward)
# are taken as 1, so standardising leaves the feature as it is instead of blowing it up.
_MIN_STD = 1e-6

Member = int | Literal["random"] | None


@dataclass(frozen=True)
class DynamicsConfig:
    """Size of a :class:`DynamicsEnsemble`."""

    ensemble_size: int = 5
    """Members (independent MLPs). MBPO uses 7 and PETS 5; 1 gives a single model."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of each member (SiLU activations, as MBPO's swish)."""
    bootstrap: bool = True
    """Each member trains on its own resample (with replacement) of the training rows;
    False: every member sees every row (members then differ by initialisation only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        if self.ensemble_size < 1:
            raise ValueError(f"DynamicsConfig.ensemble_size must be >= 1, got {self.ensemble_size}")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"DynamicsConfig.hidden must be widths >= 1, got {self.hidden}")


class Prediction(NamedTuple):
    """What a model predicts for steps: arrays or tensors with matching leading dims."""

    next_obs: Any
    """(..., obs_dim) next observations (clipped to the space, rounded if it is integer)."""
    rewards: Any
    """(...) rewards."""
    terminated: Any
    """(...) probabilities that the step ends the episode."""


@dataclass(frozen=True)
class _Checkpoint:
    """What rebuilds a saved ensemble besides its weights."""

    observation_space: dict[str, Any]
    n_actions: int
    config: DynamicsConfig


class DynamicsEnsemble(nn.Module):
    """``ensemble_size`` MLPs predicting the next observation, the reward and termination
    from an observation (a rank-1 Box) and a discrete action (an index from 0)."""

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        n_actions: int,
        config: DynamicsConfig | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                "a dynamics ensemble models flat observations (a rank-1 Box such as "
                f"CartPole's or a gridworld's 'coords'), got {observation_space}"
            )
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}")
        self.config = config if config is not None else DynamicsConfig()
        self.observation_space = observation_space
        self.obs_dim = int(observation_space.shape[0])
        self.n_actions = int(n_actions)
        self.integer = bool(np.issubdtype(observation_space.dtype, np.integer))
        d = self.obs_dim
        # Outputs per member: standardised change of each feature, reward, termination logit.
        self.net = ParallelMLPs(
            d + self.n_actions,
            self.config.hidden,
            (d + 2,) * self.config.ensemble_size,
            activation=nn.SiLU,
        )
        low = torch.as_tensor(observation_space.low, dtype=torch.float32)
        high = torch.as_tensor(observation_space.high, dtype=torch.float32)
        self.register_buffer("low", torch.where(torch.isfinite(low), low, -torch.inf))
        self.register_buffer("high", torch.where(torch.isfinite(high), high, torch.inf))
        for name, size in (("obs", d), ("delta", d), ("reward", 1)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))

    @property
    def ensemble_size(self) -> int:
        return self.config.ensemble_size

    @property
    def device(self) -> torch.device:
        return self.low.device

    # ------------------------------------------------------------------ the network
    def _inputs(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        x = (obs.float() - self.obs_mean) / self.obs_std
        return torch.cat([x, F.one_hot(actions.long(), self.n_actions).float()], dim=-1)

    def _outputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """(E, B, obs_dim + 2) standardised outputs for (B, in) or (E, B, in) inputs."""
        return torch.stack(self.net(inputs))

    def observation(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` made a possible observation: clipped to the space's finite bounds and, for
        an integer space, rounded to the nearest integer."""
        x = torch.clamp(x, self.low, self.high)
        return torch.round(x) if self.integer else x

    @torch.no_grad()
    def step(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        """Every member's prediction, tensors on the model's device: ``obs`` (B, obs_dim)
        read by all members or (E, B, obs_dim), one batch each; ``actions`` (B,) or
        (E, B). Returns (E, B, obs_dim) next observations, (E, B) rewards and (E, B)
        termination probabilities."""
        out = self._outputs(self._inputs(obs, actions))
        d = self.obs_dim
        delta = out[..., :d] * self.delta_std + self.delta_mean
        return Prediction(
            self.observation(obs.float() + delta),
            out[..., d] * self.reward_std + self.reward_mean,
            torch.sigmoid(out[..., d + 1]),
        )

    def disagreement(self, pred: Prediction) -> torch.Tensor:
        """How far the members of a (E, B, ...) :meth:`step` prediction spread, per row
        (B,): the largest standard deviation across members of any next-observation
        feature or of the reward, each in units of the standard deviation of what the
        model was trained on (the real one-step change of that feature, the real reward),
        or of the termination probability. 0 where all members agree (always, for one
        member). Members disagree where their data was thin: a large spread flags a
        prediction not to trust (as M2AC masks model samples, Pan et al. 2020)."""
        next_obs = (pred.next_obs.std(0, unbiased=False) / self.delta_std).amax(-1)
        rewards = pred.rewards.std(0, unbiased=False) / self.reward_std
        terminated = pred.terminated.std(0, unbiased=False)
        return torch.maximum(torch.maximum(next_obs, rewards), terminated)

    @torch.no_grad()
    def imagine(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        """Open-loop trajectories of every member from (B, obs_dim) start observations
        under (B, H) action sequences, tensors on the device: (E, B, H, obs_dim) next
        observations, (E, B, H) rewards and termination probabilities. Each member feeds
        its own predictions back in; a trajectory carries on past a predicted termination
        (weigh later rewards by the chance of still being alive, as the planners do)."""
        e = self.ensemble_size
        state = obs.float().expand(e, *obs.shape)
        states, rewards, terminated = [], [], []
        for t in range(actions.shape[1]):
            pred = self.step(state, actions[:, t].expand(e, -1))
            state = pred.next_obs
            states.append(state)
            rewards.append(pred.rewards)
            terminated.append(pred.terminated)
        return Prediction(
            torch.stack(states, dim=2), torch.stack(rewards, dim=2), torch.stack(terminated, 2)
        )

    # ------------------------------------------------------------------ numpy API
    def predict(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        member: Member = None,
        rng: np.random.Generator | None = None,
    ) -> Prediction:
        """One step for (B, obs_dim) observations and (B,) actions, as numpy arrays:
        ``member=None`` the ensemble mean (termination: the mean probability), ``"random"``
        one member per row drawn with ``rng`` (MBPO's rollouts), an int that member."""
        obs_t, actions_t = self._tensors(obs, actions)
        pred = self.step(obs_t, actions_t)
        if member is None:
            chosen = Prediction(
                self.observation(pred.next_obs.mean(0)),
                pred.rewards.mean(0),
                pred.terminated.mean(0),
            )
        elif member == "random":
            if rng is None:
                raise ValueError("member='random' needs an rng (a numpy Generator)")
            pick = torch.as_tensor(rng.integers(0, self.ensemble_size, len(actions_t)))
            chosen = Prediction(*(pick_members(x, pick) for x in pred))
        elif isinstance(member, int) and 0 <= member < self.ensemble_size:
            chosen = Prediction(*(x[member] for x in pred))
        else:
            raise ValueError(
                f"member must be None, 'random' or an int in [0, {self.ensemble_size}), "
                f"got {member!r}"
            )
        return Prediction(*(x.cpu().numpy() for x in chosen))

    def rollout(self, obs: np.ndarray, actions: np.ndarray) -> Prediction:
        """:meth:`imagine` for numpy arrays: (B, obs_dim) starts, (B, H) action indices."""
        actions = np.asarray(actions)
        if actions.ndim != 2:
            raise ValueError(f"actions must be (batch, horizon), got shape {actions.shape}")
        obs_t, actions_t = self._tensors(obs, actions)
        return Prediction(*(x.cpu().numpy() for x in self.imagine(obs_t, actions_t)))

    def _tensors(self, obs: np.ndarray, actions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        obs = np.asarray(obs)
        actions = np.asarray(actions)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must be (batch, {self.obs_dim}), got shape {obs.shape}")
        if len(actions) != len(obs):
            raise ValueError(f"{len(actions)} action rows for {len(obs)} observations")
        if actions.size and (actions.min() < 0 or actions.max() >= self.n_actions):
            raise ValueError(
                f"actions must be indices in [0, {self.n_actions}), got values "
                f"{actions.min()}..{actions.max()}"
            )
        return (
            torch.as_tensor(obs, dtype=torch.float32, device=self.device),
            torch.as_tensor(actions, dtype=torch.int64, device=self.device),
        )

    # ------------------------------------------------------------------ training
    def fit(self, data: Transitions, config: FitConfig | None = None) -> FitStats:
        """Train on ``data`` (continuing from the current weights) with the shared
        minibatch loop; the standardisation statistics are refitted to ``data`` first.

        Loss per row: mean squared error of the standardised change and reward, plus the
        binary cross-entropy of termination; averaged over members.
        """
        config = config if config is not None else FitConfig(learning_rate=1e-3)
        if len(data) < 1:
            raise ValueError("no training data: need at least one transition")
        obs, actions = self._tensors(data.obs, data.actions)
        next_obs, _ = self._tensors(data.next_obs, data.actions)
        delta = next_obs - obs
        rewards = torch.as_tensor(data.rewards, dtype=torch.float32, device=self.device)
        self._fit_statistics(obs, delta, rewards)
        inputs = self._inputs(obs, actions)
        targets = torch.cat(
            [
                (delta - self.delta_mean) / self.delta_std,
                ((rewards[:, None] - self.reward_mean) / self.reward_std),
            ],
            dim=1,
        )
        ended = torch.as_tensor(data.terminated, dtype=torch.float32, device=self.device)
        rows = self._member_rows(len(data), config.seed)
        d = self.obs_dim

        def loss_of(batch: torch.Tensor) -> torch.Tensor:
            idx = rows[:, batch]  # (E, B): each member's rows of this minibatch
            out = self._outputs(inputs[idx])
            regression = F.mse_loss(out[..., : d + 1], targets[idx])
            termination = F.binary_cross_entropy_with_logits(out[..., d + 1], ended[idx])
            return regression + termination

        return training.fit(self, loss_of, len(data), config)

    def _fit_statistics(
        self, obs: torch.Tensor, delta: torch.Tensor, rewards: torch.Tensor
    ) -> None:
        for name, x in (("obs", obs), ("delta", delta), ("reward", rewards[:, None])):
            std = x.std(0, unbiased=False)
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(torch.where(std < _MIN_STD, 1.0, std))

    def _member_rows(self, n: int, seed: int) -> torch.Tensor:
        """(E, n) row indices each member trains on: bootstrap resamples, or 0..n-1."""
        e = self.ensemble_size
        if not self.config.bootstrap:
            return torch.arange(n, device=self.device).expand(e, n)
        generator = torch.Generator().manual_seed(seed + 1)  # not the shuffling's stream
        return torch.randint(0, n, (e, n), generator=generator).to(self.device)

    # ------------------------------------------------------------------ evaluation
    def prediction_error(
        self, data: Transitions, horizons: tuple[int, ...] = (1, 5, 10)
    ) -> dict[int, float]:
        """Mean squared error (per feature, in observation units) of open-loop predictions
        ``h`` steps ahead, for each ``h`` in ``horizons``: from every row of ``data`` that
        starts ``h`` steps of one real episode, the ensemble-mean of the members'
        trajectories under the real actions against the real observation after them.
        ``data`` must hold whole trajectories in order (e.g. :func:`random_transitions`)."""
        errors = {}
        for h in horizons:
            starts = data.windows(h)
            if len(starts) == 0:
                raise ValueError(f"no real trajectory of {h} steps in {len(data)} transitions")
            steps = starts[:, None] + np.arange(h)
            obs, actions = self._tensors(data.obs[starts], data.actions[steps])
            predicted = self.imagine(obs, actions).next_obs[:, :, -1].mean(0)
            real = torch.as_tensor(data.next_obs[steps[:, -1]], dtype=torch.float32)
            errors[h] = float((predicted.cpu() - real).pow(2).mean())
        return errors

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        """Write weights, statistics and config to ``path`` (``.pt``) atomically."""
        spec = _Checkpoint(space_to_json(self.observation_space), self.n_actions, self.config)
        return save_module(path, KIND, spec, self)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> DynamicsEnsemble:
        """Read a model written by :meth:`save`; it predicts exactly as the saved one."""
        fields, state = load_module_state(path, KIND)
        model = cls(
            space_from_json(fields["observation_space"]),
            int(fields["n_actions"]),
            DynamicsConfig(**fields["config"]),
        )
        model.load_state_dict(state)
        return model.to(device).eval()


def pick_members(x: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Row ``i`` of member ``members[i]``: (E, B, ...) predictions to (B, ...)."""
    members = members.to(x.device)
    return x[members, torch.arange(len(members), device=x.device)]
