"""LatentDynamics: a recurrent model of how an autoencoder's latent codes change, the "M"
of World Models (Ha & Schmidhuber, 2018), without the mixture density output.

A GRU cell reads the current (standardised) latent code and the action (one-hot) and
updates its hidden state; linear heads on the new hidden state predict the next latent
code, the reward and the logit of termination. The original's mixture of Gaussians models
stochastic dynamics; the gridworlds it is meant for here are deterministic, so a point
prediction (mean squared error) does the job with less to tune.

It trains by teacher forcing on real sequences: episodes of encoded frames cut into
windows of ``sequence_length`` steps, each window starting from a zero hidden state (a
dream starts from one too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.common.torch_utils import resolve_device
from agents.models import training
from agents.models.data import Transitions
from agents.models.dynamics import Prediction
from agents.models.training import FitConfig, FitStats, seeded

_MIN_STD = 1e-6


@dataclass(frozen=True)
class LatentDynamicsConfig:
    """Shape of a :class:`LatentDynamics`."""

    latent_dim: int
    """Size of the latent codes it models (the autoencoder's ``latent_dim``)."""
    n_actions: int
    """Discrete actions (indices from 0)."""
    hidden: int = 64
    """Size of the GRU's hidden state (the model's memory, which the controller reads)."""

    def __post_init__(self) -> None:
        for name in ("latent_dim", "n_actions", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"LatentDynamicsConfig.{name} must be >= 1, got {getattr(self, name)}"
                )


class LatentDynamics(nn.Module):
    """GRU model of latent codes, rewards and termination (see the module docstring).

    Latent codes go in and come out standardised (statistics fitted by
    :func:`train_latent_dynamics`; :meth:`standardize` applies them to encoder codes);
    rewards come out in the env's units.
    """

    def __init__(self, config: LatentDynamicsConfig) -> None:
        super().__init__()
        self.config = config
        # nn.GRU rather than a GRUCell: training runs whole windows through its fused loop
        # (several times faster than a Python loop of cells); a step is a window of one.
        self.gru = nn.GRU(config.latent_dim + config.n_actions, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, config.latent_dim + 2)
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_std", torch.ones(config.latent_dim))
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))

    @property
    def n_actions(self) -> int:
        return self.config.n_actions

    def initial_state(self, batch: int) -> torch.Tensor:
        """(batch, hidden) zeros: the memory at an episode's (or a dream's) start."""
        return torch.zeros(batch, self.config.hidden, device=self.latent_mean.device)

    def standardize(self, latents: torch.Tensor) -> torch.Tensor:
        """Encoder codes to the standardised codes this model reads and predicts."""
        return (latents - self.latent_mean) / self.latent_std

    def remember(
        self, latents: torch.Tensor, actions: torch.Tensor, memory: torch.Tensor
    ) -> torch.Tensor:
        """The hidden state after taking ``actions`` (B,) from standardised ``latents``
        (B, latent_dim) with hidden state ``memory`` (B, hidden)."""
        return self.gru(self._inputs(latents, actions)[:, None], memory[None])[1][0]

    def _inputs(self, latents: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.cat([latents, F.one_hot(actions.long(), self.n_actions).float()], dim=-1)

    def step(
        self, latents: torch.Tensor, actions: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, Prediction]:
        """One imagined step: the new hidden state and the prediction read from it
        (standardised next latents, rewards, termination probabilities)."""
        memory = self.remember(latents, actions, memory)
        out = self.head(memory)
        d = self.config.latent_dim
        reward = out[..., d] * self.reward_std + self.reward_mean
        next_latents = latents + out[..., :d]
        return memory, Prediction(next_latents, reward, torch.sigmoid(out[..., d + 1]))

    def sequence_outputs(self, latents: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(B, T, latent_dim + 2) raw outputs (change of the standardised latent,
        standardised reward, termination logit) along (B, T, latent_dim) real latents and (B, T)
        actions, from a zero hidden state (teacher forcing)."""
        memories, _ = self.gru(self._inputs(latents, actions))
        return self.head(memories)


def sequence_rows(data: Transitions, length: int) -> np.ndarray:
    """(N, length) row indices of ``data`` cutting every episode into consecutive windows
    of ``length`` steps; -1 pads a window that an episode's end cuts short."""
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    starts = data.episode_starts()
    ends = np.append(starts[1:], len(data))
    windows = []
    for start, end in zip(starts, ends, strict=True):
        for first in range(start, end, length):
            row = np.arange(first, first + length)
            windows.append(np.where(row < end, row, -1))
    return np.stack(windows)


def train_latent_dynamics(
    latents: np.ndarray,
    next_latents: np.ndarray,
    data: Transitions,
    config: LatentDynamicsConfig,
    fit_config: FitConfig | None = None,
    sequence_length: int = 16,
    model: LatentDynamics | None = None,
    input_noise: float = 0.0,
) -> tuple[LatentDynamics, FitStats]:
    """Fit a :class:`LatentDynamics` (a new one, or ``model`` further) to ``data``'s steps,
    whose observations and next observations an encoder turned into ``latents`` and
    ``next_latents`` (N, latent_dim). Loss per step: mean squared error of the
    standardised next latent and reward, plus the binary cross-entropy of termination.

    ``input_noise`` (standard deviation, in standardised units) perturbs the latents M
    reads while the targets stay the real next latents, so M learns to pull a code that is
    slightly off back to where it belongs: in a dream M reads its own predictions, whose
    small errors would otherwise add up step after step."""
    latents, next_latents = np.asarray(latents), np.asarray(next_latents)
    n = len(data)
    if latents.shape != (n, config.latent_dim) or next_latents.shape != latents.shape:
        raise ValueError(
            f"latents and next_latents must be ({n}, {config.latent_dim}) for {n} steps, got "
            f"{latents.shape} and {next_latents.shape}"
        )
    fit_config = fit_config if fit_config is not None else FitConfig(learning_rate=3e-3)
    if model is None:
        with seeded(fit_config.seed):
            model = LatentDynamics(config)
    device = resolve_device(fit_config.device)
    model.to(device)
    z = torch.as_tensor(latents, dtype=torch.float32, device=device)
    z_next = torch.as_tensor(next_latents, dtype=torch.float32, device=device)
    rewards = torch.as_tensor(data.rewards, dtype=torch.float32, device=device)
    _fit_statistics(model, torch.cat([z, z_next]), rewards)
    z, z_next = model.standardize(z), model.standardize(z_next)
    rewards = (rewards - model.reward_mean) / model.reward_std
    ended = torch.as_tensor(data.terminated, dtype=torch.float32, device=device)
    # Terminations are rare (one per episode at most); weighing them up by how rare they
    # are keeps M from dreaming on past the end of an episode, where it has never been.
    weight = termination_weight(data.terminated).to(device)
    actions = torch.as_tensor(data.actions, dtype=torch.int64, device=device)
    rows = torch.as_tensor(sequence_rows(data, sequence_length), device=device)
    valid = (rows >= 0).float()
    rows = rows.clamp(min=0)
    d = config.latent_dim

    generator = torch.Generator(device=device).manual_seed(fit_config.seed + 1)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        idx, mask = rows[batch], valid[batch]
        inputs = z[idx]
        if input_noise > 0 and torch.is_grad_enabled():  # training steps, not the baseline
            noise = torch.randn(inputs.shape, generator=generator, device=device)
            inputs = inputs + input_noise * noise
        out = model.sequence_outputs(inputs, actions[idx])
        per_step = (
            (out[..., :d] - (z_next[idx] - inputs)).pow(2).mean(-1)
            + (out[..., d] - rewards[idx]).pow(2)
            + F.binary_cross_entropy_with_logits(
                out[..., d + 1], ended[idx], reduction="none", pos_weight=weight
            )
        )
        return (per_step * mask).sum() / mask.sum()

    stats = training.fit(model, loss_of, len(rows), fit_config)
    return model, stats


def _fit_statistics(model: LatentDynamics, latents: torch.Tensor, rewards: torch.Tensor) -> None:
    with torch.no_grad():
        std = latents.std(0, unbiased=False)
        model.latent_mean.copy_(latents.mean(0))
        model.latent_std.copy_(torch.where(std < _MIN_STD, 1.0, std))
        r_std = rewards.std(unbiased=False) if len(rewards) > 1 else torch.ones(())
        model.reward_mean.copy_(rewards.mean())
        model.reward_std.copy_(torch.where(r_std < _MIN_STD, 1.0, r_std))


def termination_weight(terminated: np.ndarray) -> torch.Tensor:
    """Weight of a terminal step in the termination loss: non-terminal steps per
    terminal one (1 when there are none), so both classes weigh alike in total."""
    ends = int(np.count_nonzero(terminated))
    return torch.tensor(max(1.0, (len(terminated) - ends) / ends) if ends else 1.0)
