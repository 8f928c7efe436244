"""SB3's DQN as the palaestra agent ``sb3_dqn``."""

from __future__ import annotations

from dataclasses import dataclass

from stable_baselines3 import DQN

from agents.sb3.base import SB3Agent, SB3Config


@dataclass(frozen=True)
class SB3DQNConfig(SB3Config):
    """DQN settings. Defaults are RL Baselines3 Zoo's CartPole-v1 hyperparameters
    (``hyperparams/dqn.yml``): many gradient steps on a big batch every 256 env steps, and a
    target network refreshed every 10 of them."""

    net_arch: tuple[int, ...] | None = (256, 256)
    """Hidden layer widths of the Q network."""
    learning_rate: float = 2.3e-3
    """Adam step size."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 100_000
    """Replay buffer capacity in transitions (SB3 does not save it in checkpoints)."""
    learning_starts: int = 1000
    """Steps of uniformly random actions before the first update."""
    train_freq: int = 256
    """Env steps (per env) between two training phases."""
    gradient_steps: int = 128
    """Gradient steps per training phase (-1: as many as env steps collected)."""
    target_update_interval: int = 10
    """Env steps between target network refreshes (SB3 counts them over all envs)."""
    exploration_fraction: float = 0.16
    """Fraction of ``learn``'s ``total_steps`` over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.04
    """Epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Clip the gradient's global L2 norm to this (SB3's default)."""


class SB3DQN(SB3Agent):
    """Deep Q-Network from Stable-Baselines3 (replay buffer, target network, epsilon-greedy)."""

    name = "sb3_dqn"
    config_class = SB3DQNConfig
    algorithm = DQN
