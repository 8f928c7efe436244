"""The actor-critic network shared by REINFORCE (with baseline), A2C and PPO."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

from agents.common.gnn import GNNConfig
from agents.common.masking import apply_mask
from agents.common.networks import ParallelMLPs, make_encoder, mlp
from agents.common.transformer import TransformerConfig


class ActorCritic(nn.Module):
    """Policy and value function over one observation space.

    Encoders with weights (CNNs, embeddings of images or grids) are shared by actor and
    critic, with linear heads on top, as in SB3's CnnPolicy; flat observations get separate
    MLPs for actor and critic (SB3's and CleanRL's MLP default), which learns faster on
    classic control. Discrete actions give a (maskable) Categorical; Box actions a diagonal
    Gaussian with a state-independent log standard deviation.

    ``fused=True`` (flat observations only) holds the two MLPs as one
    :class:`~agents.common.networks.ParallelMLPs` and encodes the observation once: the same
    functions and initialisation, in about half the kernels per pass, which is what small
    networks on CPU spend their time on (PPO and A2C use it). The ``actor`` and ``critic``
    attributes then do not exist; the methods below work either way.

    An encoder that embeds each action (``scores_actions``, the graph encoder) gets an
    actor head applied to every action's vector with the same weights, giving one logit
    per action: the policy then treats "move to neighbour k" the same whichever k the env
    lists it under, and a view with more nodes needs no new weights. The critic reads the
    encoder's state vector. ``gnn`` sizes that graph encoder and ``transformer`` the token
    encoder (other spaces ignore them).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        hidden: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.Tanh,
        fused: bool = False,
        gnn: GNNConfig | None = None,
        transformer: TransformerConfig | None = None,
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
        self.actor_encoder = make_encoder(observation_space, gnn, transformer)
        self.scores_actions = self.actor_encoder.scores_actions
        if self.scores_actions and (self.continuous or n_out != self.actor_encoder.n_actions):
            raise ValueError(
                f"{type(self.actor_encoder).__name__} embeds "
                f"{self.actor_encoder.n_actions} discrete actions; the action space is "
                f"{action_space}"
            )
        self.shared = any(True for _ in self.actor_encoder.parameters())
        self.critic_encoder = self.actor_encoder if self.shared else make_encoder(observation_space)
        feat = self.actor_encoder.out_dim
        hidden = () if self.shared else tuple(hidden)
        self.fused = fused and not self.shared
        if self.fused:
            self.mlps = ParallelMLPs(feat, hidden, (n_out, 1), activation, out_gains=(0.01, 1.0))
        elif self.scores_actions:  # one logit per action vector, the same weights for all
            # No bias: a constant added to every logit leaves the softmax unchanged, so it
            # would be a parameter that never gets a gradient.
            self.actor = nn.Linear(self.actor_encoder.action_dim, 1, bias=False)
            nn.init.orthogonal_(self.actor.weight, 0.01)
            self.critic = mlp(feat, hidden, 1, activation, out_gain=1.0)
        else:
            self.actor = mlp(feat, hidden, n_out, activation, out_gain=0.01)
            self.critic = mlp(feat, hidden, 1, activation, out_gain=1.0)

    def value(self, obs: Any) -> torch.Tensor:
        """State values, shape (batch,)."""
        if self.fused:
            return self.heads(obs)[1]
        return self.critic(self.critic_encoder(obs)).squeeze(-1)

    def actor_output(self, obs: Any) -> torch.Tensor:
        """Raw actor output (unmasked logits or Gaussian means) without running the critic,
        for learners that act without needing values (REINFORCE)."""
        if self.fused or self.scores_actions:
            return self.heads(obs)[0]
        return self.actor(self.actor_encoder(obs))

    def distribution(self, obs: Any, mask: torch.Tensor | None = None) -> Distribution:
        out = self.actor_output(obs)
        if self.continuous:
            return Normal(out, self.log_std.exp().expand_as(out))
        return Categorical(logits=apply_mask(out, mask))

    def forward(
        self, obs: Any, mask: torch.Tensor | None = None
    ) -> tuple[Distribution, torch.Tensor]:
        """(action distribution, value) in one pass; the shared encoder runs once."""
        out, value = self.heads(obs)
        if self.continuous:
            return Normal(out, self.log_std.exp().expand_as(out)), value
        return Categorical(logits=apply_mask(out, mask)), value

    def heads(self, obs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw actor output, value): logits (unmasked) or Gaussian means, and V(obs).

        The raw form is what the on-policy hot loops use: building a ``torch.distributions``
        object costs several times the small MLP's forward pass on CPU (argument validation,
        lazy properties), so :meth:`sample` and :meth:`evaluate_actions` do the same maths
        directly on these tensors.
        """
        if self.fused:
            out, value = self.mlps(self.actor_encoder(obs))
            return out, value.squeeze(-1)
        if self.scores_actions:
            state, per_action = self.actor_encoder.encode_actions(obs)
            return self.actor(per_action).squeeze(-1), self.critic(state).squeeze(-1)
        if self.shared:
            features = self.actor_encoder(obs)
            return self.actor(features), self.critic(features).squeeze(-1)
        value = self.critic(self.critic_encoder(obs)).squeeze(-1)
        return self.actor(self.actor_encoder(obs)), value

    def sample(
        self,
        out: torch.Tensor,
        mask: torch.Tensor | None,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(actions, their log-probabilities) from :meth:`heads`' raw output.

        Discrete actions are drawn by the Gumbel-max trick (argmax of logits plus Gumbel
        noise): exact Categorical sampling in a few elementwise ops, and masked logits (the
        lowest float) can never win. ``generator`` lets an agent own its random stream.
        """
        if self.continuous:
            std = self.log_std.exp()
            if deterministic:
                actions = out
            else:
                noise = torch.randn(out.shape, generator=generator, device=out.device)
                actions = out + std * noise
            return actions, gaussian_log_prob(actions, out, self.log_std)
        log_probs = torch.log_softmax(apply_mask(out, mask), dim=-1)
        if deterministic:
            actions = log_probs.argmax(-1, keepdim=True)
        else:
            # u in [tiny, 1) keeps the Gumbel noise -log(-log(u)) finite (within [-4.5, 16.6]):
            # an infinite draw could otherwise lift a masked logit (the lowest float) to the max.
            u = torch.rand(out.shape, generator=generator, device=out.device)
            u = u.clamp_(min=torch.finfo(u.dtype).tiny)
            actions = (log_probs - torch.log(-torch.log(u))).argmax(-1, keepdim=True)
        return actions.squeeze(-1), log_probs.gather(-1, actions).squeeze(-1)

    def evaluate_actions(
        self,
        obs: Any,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        with_entropy: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(values, log-probabilities of ``actions``, entropies) for a batch, as in SB3.

        ``with_entropy=False`` returns None for the entropies and saves their ops when no
        entropy bonus is trained (a third of a small network's loss graph).
        """
        out, values = self.heads(obs)
        if self.continuous:
            log_prob = gaussian_log_prob(actions, out, self.log_std)
            if not with_entropy:
                return values, log_prob, None
            entropy = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand_as(log_prob)
            return values, log_prob, entropy
        log_probs = torch.log_softmax(apply_mask(out, mask), dim=-1)
        log_prob = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        if not with_entropy:
            return values, log_prob, None
        # Masked actions have probability 0 and log-probability near the lowest float;
        # clamping keeps 0 * log p at 0 instead of 0 * -inf = nan (as torch's Categorical does).
        clamped = log_probs.clamp(min=torch.finfo(log_probs.dtype).min)
        entropy = -(clamped.exp() * clamped).sum(-1)
        return values, log_prob, entropy

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


def gaussian_log_prob(
    actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def clip_actions(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """Gaussian samples clipped into a Box action space before they reach the env."""
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(actions, action_space.low, action_space.high)
    return actions
