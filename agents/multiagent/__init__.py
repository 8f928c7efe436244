"""Learners for PettingZoo ParallelEnvs: the shared interface and the tabular learners."""

from agents.multiagent.base import MultiAgentLearner, TeamEpisode
from agents.multiagent.tabular import (
    HystereticQConfig,
    HystereticQLearning,
    IndependentQLearning,
    IQLConfig,
    LenientQConfig,
    LenientQLearning,
)

__all__ = [
    "HystereticQConfig",
    "HystereticQLearning",
    "IQLConfig",
    "IndependentQLearning",
    "LenientQConfig",
    "LenientQLearning",
    "MultiAgentLearner",
    "TeamEpisode",
]
