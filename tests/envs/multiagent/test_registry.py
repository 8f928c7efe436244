"""The multi-agent registry: ids, defaults, lazy imports, loud errors."""

from __future__ import annotations

import pytest
from pettingzoo import AECEnv, ParallelEnv

from envs.multiagent import MULTIAGENT_IDS, aec_env, is_multiagent_id, parallel_env

SPEC_IDS = {
    "palaestra/ClimbingGame-v0",
    "palaestra/PenaltyGame-v0",
    "palaestra/StagHunt-v0",
    "palaestra/PrisonersDilemma-v0",
    "palaestra/CoopCover-v0",
    "palaestra/PredatorPrey-v0",
    "palaestra/GraphRouting-v0",
}


def test_every_spec_id_is_registered_as_data() -> None:
    assert set(MULTIAGENT_IDS) == SPEC_IDS
    for env_id, (entry_point, kwargs, description) in MULTIAGENT_IDS.items():
        assert is_multiagent_id(env_id)
        assert ":" in entry_point and entry_point.startswith("envs.multiagent.")
        assert isinstance(kwargs, dict) and description
    assert not is_multiagent_id("palaestra/GridWorld-v0")


@pytest.mark.parametrize("env_id", sorted(SPEC_IDS))
def test_each_id_builds_both_forms(env_id: str) -> None:
    module = MULTIAGENT_IDS[env_id][0].split(":")[0]
    pytest.importorskip(module, reason="written in parallel; its own tests cover it")
    env = parallel_env(env_id)
    assert isinstance(env, ParallelEnv)
    assert isinstance(aec_env(env_id), AECEnv)
    observations, _ = env.reset(seed=0)
    assert set(observations) == set(env.possible_agents)


def test_registered_defaults_and_overrides() -> None:
    assert parallel_env("palaestra/PenaltyGame-v0").game.payoffs[0, 0, 2] == -10.0
    assert parallel_env("palaestra/PenaltyGame-v0", k=-30.0).game.payoffs[0, 0, 2] == -30.0
    env = parallel_env("palaestra/CoopCover-v0", n_agents=2, max_cycles=9)
    assert env.possible_agents == ["agent_0", "agent_1"] and env.max_cycles == 9


def test_unknown_id_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown multi-agent env id 'palaestra/Nope-v0'; valid"):
        parallel_env("palaestra/Nope-v0")


def test_unknown_argument_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown argument.* n_agent for .*valid: n_agents, map"):
        parallel_env("palaestra/CoopCover-v0", n_agent=2)
