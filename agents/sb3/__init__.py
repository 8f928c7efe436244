"""Stable-Baselines3's PPO, A2C and DQN as palaestra agents (``sb3_ppo``, ``sb3_a2c``,
``sb3_dqn``): the peers a user would otherwise pick, trained and recorded by the same
``palaestra train`` as palaestra's own learners. Needs ``stable-baselines3``."""

from agents.sb3.a2c import SB3A2C, SB3A2CConfig
from agents.sb3.base import SB3Agent, SB3Config
from agents.sb3.dqn import SB3DQN, SB3DQNConfig
from agents.sb3.ppo import SB3PPO, SB3PPOConfig

__all__ = [
    "SB3A2C",
    "SB3DQN",
    "SB3PPO",
    "SB3A2CConfig",
    "SB3Agent",
    "SB3Config",
    "SB3DQNConfig",
    "SB3PPOConfig",
]
