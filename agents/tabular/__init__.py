"""Table-based agents for Discrete envs: value iteration and one-step TD control."""

from agents.tabular.base import TabularAgent, TDAgent, TDConfig
from agents.tabular.dyna_q import DynaQ, DynaQConfig
from agents.tabular.expected_sarsa import ExpectedSarsa, ExpectedSarsaConfig
from agents.tabular.model import TabularModel
from agents.tabular.q_learning import QLearning, QLearningConfig
from agents.tabular.sarsa import Sarsa, SarsaConfig
from agents.tabular.value_iteration import ValueIteration, ValueIterationConfig, value_iteration

__all__ = [
    "DynaQ",
    "DynaQConfig",
    "ExpectedSarsa",
    "ExpectedSarsaConfig",
    "QLearning",
    "QLearningConfig",
    "Sarsa",
    "SarsaConfig",
    "TDAgent",
    "TDConfig",
    "TabularAgent",
    "TabularModel",
    "ValueIteration",
    "ValueIterationConfig",
    "value_iteration",
]
