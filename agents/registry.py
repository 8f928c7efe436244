"""Agent names used on the command line, mapped to their classes.

Entries are import strings so that ``palaestra list`` and config validation do not import
torch-heavy learners they do not need.
"""

from __future__ import annotations

import importlib

from agents.base import Agent

AGENTS: dict[str, str] = {
    "value_iteration": "agents.tabular.value_iteration:ValueIteration",
    "q_learning": "agents.tabular.q_learning:QLearning",
    "sarsa": "agents.tabular.sarsa:Sarsa",
    "expected_sarsa": "agents.tabular.expected_sarsa:ExpectedSarsa",
    "dyna_q": "agents.tabular.dyna_q:DynaQ",
    "dqn": "agents.deep.dqn:DQN",
    "reinforce": "agents.deep.reinforce:Reinforce",
    "a2c": "agents.deep.a2c:A2C",
    "ppo": "agents.deep.ppo:PPO",
    "bc_ppo": "agents.deep.bc_ppo:BCPPO",
    "ppo_pretrained_encoder": "agents.models.encoder_ppo:PretrainedEncoderPPO",
    "dyna_dqn": "agents.models.dyna_dqn:DynaDQN",
    "model_predictive": "agents.models.planning:ModelPredictiveAgent",
    "world_models": "agents.models.world_models:WorldModelsAgent",
    "sb3_ppo": "agents.sb3.ppo:SB3PPO",
    "sb3_a2c": "agents.sb3.a2c:SB3A2C",
    "sb3_dqn": "agents.sb3.dqn:SB3DQN",
    # Multi-agent learners (PettingZoo ParallelEnvs; ``agents.multiagent``).
    "iql": "agents.multiagent.tabular:IndependentQLearning",
    "hysteretic_q": "agents.multiagent.tabular:HystereticQLearning",
    "lenient_q": "agents.multiagent.tabular:LenientQLearning",
    "ippo": "agents.multiagent.ppo:IPPO",
    "mappo": "agents.multiagent.ppo:MAPPO",
}

# The names above that learn multi-agent envs (kept as data so nothing is imported to ask).
MULTIAGENT_AGENTS = frozenset({"iql", "hysteretic_q", "lenient_q", "ippo", "mappo"})


def agent_names(multi_agent: bool | None = None) -> list[str]:
    """Agent names in registry order: all of them, or only the multi-agent (True) or the
    single-agent (False) learners."""
    if multi_agent is None:
        return list(AGENTS)
    return [name for name in AGENTS if (name in MULTIAGENT_AGENTS) == multi_agent]


def agent_class(name: str) -> type[Agent]:
    """The class registered under ``name``; ValueError listing valid names otherwise."""
    try:
        target = AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; valid agents: {', '.join(AGENTS)}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
