"""Advantage Actor-Critic (A2C; Mnih et al., 2016, the synchronous form of A3C).

Short rollouts from vectorised envs (``n_envs * n_steps`` transitions), GAE advantages,
and one gradient step per rollout on the policy-gradient loss, the value loss and an
entropy bonus. It shares everything but :meth:`A2C.update` and the optimizer with PPO
(:mod:`agents.deep.on_policy`): A2C is PPO with one epoch, one minibatch and no clipping.

The defaults are SB3's A2C defaults, which RL Baselines3 Zoo uses for CartPole-v1
(RMSprop with ``alpha=0.99, eps=1e-5``, 5 steps x 8 envs, no advantage normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.common.rollout import RolloutBuffer
from agents.deep.on_policy import (
    OnPolicyAgent,
    OnPolicyConfig,
    explained_variance,
    normalize,
    value_loss,
)


@dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    """A2C settings; the defaults are SB3's, as RL Zoo runs them on CartPole-v1."""

    rms_prop_alpha: float = 0.99
    """RMSprop's smoothing constant of the squared-gradient average."""
    rms_prop_eps: float = 1e-5
    """RMSprop's stabiliser added to the root mean square (SB3's value; torch's default
    1e-8 gives very large first steps)."""

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            *super().checks(),
            ("rms_prop_alpha", 0.0 <= self.rms_prop_alpha < 1.0, "in [0, 1)"),
            ("rms_prop_eps", self.rms_prop_eps > 0, "> 0"),
        ]


def policy_gradient_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``-mean(A * log pi(a|s))``: the vanilla policy-gradient surrogate (advantages are
    constants here; the critic learns from the value loss alone)."""
    return -(advantages.detach() * log_probs).mean()


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic on vectorised envs."""

    name = "a2c"
    config_class = A2CConfig
    config: A2CConfig

    def make_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self.config
        return torch.optim.RMSprop(
            params,
            lr=cfg.learning_rate,
            alpha=cfg.rms_prop_alpha,
            eps=cfg.rms_prop_eps,
            foreach=True,
        )

    def update(self, buffer: RolloutBuffer) -> dict[str, torch.Tensor]:
        cfg = self.config
        data = buffer.flat()
        values, log_probs, entropy = self.policy.evaluate_actions(
            data.obs, data.actions, data.masks
        )
        advantages = normalize(data.advantages) if cfg.normalize_advantage else data.advantages
        policy_loss = policy_gradient_loss(log_probs, advantages)
        v_loss = value_loss(values, data.returns)
        entropy = entropy.mean()
        grad_norm = self.gradient_step(self.total_loss(policy_loss, v_loss, entropy))
        stats = {
            "policy_loss": policy_loss.detach(),
            "value_loss": v_loss.detach(),
            "entropy": entropy.detach(),
            "explained_variance": explained_variance(data.values, data.returns),
        }
        if grad_norm is not None:
            stats["grad_norm"] = grad_norm
        return stats
