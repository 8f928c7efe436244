"""SB3's A2C as the palaestra agent ``sb3_a2c``."""

from __future__ import annotations

from dataclasses import dataclass

from stable_baselines3 import A2C

from agents.sb3.base import SB3Agent, SB3Config


@dataclass(frozen=True)
class SB3A2CConfig(SB3Config):
    """A2C settings. Defaults are RL Baselines3 Zoo's CartPole-v1 hyperparameters
    (``hyperparams/a2c.yml``: 8 envs, no entropy bonus) over SB3's A2C defaults."""

    n_envs: int = 8
    """Envs stepped together; an update uses ``n_steps * n_envs`` steps."""
    learning_rate: float = 7e-4
    """RMSprop step size (SB3's default)."""
    n_steps: int = 5
    """Steps per env between updates."""
    gae_lambda: float = 1.0
    """GAE bias/variance trade-off; 1 is the classic n-step advantage."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus; > 0 slows the collapse of exploration."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Clip the gradient's global L2 norm to this."""
    use_rms_prop: bool = True
    """RMSprop (as in the A2C paper) instead of Adam."""
    normalize_advantage: bool = False
    """Standardise each update's advantages."""


class SB3A2C(SB3Agent):
    """Advantage Actor-Critic (synchronous A3C) from Stable-Baselines3."""

    name = "sb3_a2c"
    config_class = SB3A2CConfig
    algorithm = A2C
