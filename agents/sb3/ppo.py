"""SB3's PPO as the palaestra agent ``sb3_ppo``."""

from __future__ import annotations

from dataclasses import dataclass

from stable_baselines3 import PPO

from agents.sb3.base import SB3Agent, SB3Config


@dataclass(frozen=True)
class SB3PPOConfig(SB3Config):
    """PPO settings. Defaults are RL Baselines3 Zoo's tuned CartPole-v1 hyperparameters
    (``hyperparams/ppo.yml``), which also learn the small palaestra gridworlds quickly."""

    n_envs: int = 8
    """Envs stepped together; a rollout is ``n_steps * n_envs`` steps."""
    learning_rate: float = 1e-3
    """Adam step size (Zoo: ``lin_0.001``)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over ``learn``'s ``total_steps``."""
    gamma: float = 0.98
    """Discount factor in [0, 1]."""
    n_steps: int = 32
    """Steps per env in each rollout."""
    batch_size: int = 256
    """Minibatch size of the policy updates."""
    n_epochs: int = 20
    """Passes over each rollout."""
    gae_lambda: float = 0.8
    """GAE bias/variance trade-off: 0 is one-step TD, 1 is Monte Carlo."""
    clip_range: float = 0.2
    """PPO's limit on the probability ratio (Zoo: ``lin_0.2``)."""
    anneal_clip_range: bool = True
    """Decay ``clip_range`` linearly to 0 over ``learn``'s ``total_steps``."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus; > 0 slows the collapse of exploration."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global L2 norm to this."""


class SB3PPO(SB3Agent):
    """Proximal Policy Optimization from Stable-Baselines3 (clipped surrogate, GAE)."""

    name = "sb3_ppo"
    config_class = SB3PPOConfig
    algorithm = PPO
