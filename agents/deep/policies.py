"""The actor-critic network shared by REINFORCE (with baseline), A2C and PPO."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

from agents.common.masking import apply_mask
from agents.common.networks import make_encoder, mlp


class ActorCritic(nn.Module):
    """Policy and value function over one observation space.

    Encoders with weights (CNNs, embeddings of images or grids) are shared by actor and
    critic, with linear heads on top, as in SB3's CnnPolicy; flat observations get separate
    MLPs for actor and critic (SB3's and CleanRL's MLP default), which learns faster on
    classic control. Discrete actions give a (maskable) Categorical; Box actions a diagonal
    Gaussian with a state-independent log standard deviation.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.Tanh,
    ) -> None:
        super().__init__()
        if isinstance(action_space, gym.spaces.Discrete):
            self.continuous = False
            n_out = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            self.continuous = True
            n_out = int(action_space.shape[0])
            self.log_std = nn.Parameter(torch.zeros(n_out))
        else:
            raise ValueError(
                f"unsupported action space {action_space}; supported: Discrete, 1-d Box"
            )
        self.actor_encoder = make_encoder(observation_space)
        self.shared = any(True for _ in self.actor_encoder.parameters())
        self.critic_encoder = self.actor_encoder if self.shared else make_encoder(observation_space)
        feat = self.actor_encoder.out_dim
        hidden = () if self.shared else tuple(hidden)
        self.actor = mlp(feat, hidden, n_out, activation, out_gain=0.01)
        self.critic = mlp(feat, hidden, 1, activation, out_gain=1.0)

    def value(self, obs: Any) -> torch.Tensor:
        """State values, shape (batch,)."""
        return self.critic(self.critic_encoder(obs)).squeeze(-1)

    def distribution(self, obs: Any, mask: torch.Tensor | None = None) -> Distribution:
        out = self.actor(self.actor_encoder(obs))
        if self.continuous:
            return Normal(out, self.log_std.exp().expand_as(out))
        return Categorical(logits=apply_mask(out, mask))

    def forward(
        self, obs: Any, mask: torch.Tensor | None = None
    ) -> tuple[Distribution, torch.Tensor]:
        """(action distribution, value) in one pass; the shared encoder runs once."""
        if self.shared:
            features = self.actor_encoder(obs)
            out = self.actor(features)
            value = self.critic(features).squeeze(-1)
            if self.continuous:
                return Normal(out, self.log_std.exp().expand_as(out)), value
            return Categorical(logits=apply_mask(out, mask)), value
        return self.distribution(obs, mask), self.value(obs)

    def log_prob(self, dist: Distribution, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability per sample (summed over action dimensions when continuous)."""
        lp = dist.log_prob(actions)
        return lp.sum(-1) if self.continuous else lp

    def entropy(self, dist: Distribution) -> torch.Tensor:
        ent = dist.entropy()
        return ent.sum(-1) if self.continuous else ent

    def act(self, dist: Distribution, deterministic: bool) -> torch.Tensor:
        """Greedy (mode) or sampled actions."""
        if deterministic:
            return dist.mean if self.continuous else dist.probs.argmax(-1)
        return dist.sample()


def clip_actions(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """Gaussian samples clipped into a Box action space before they reach the env."""
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(actions, action_space.low, action_space.high)
    return actions
