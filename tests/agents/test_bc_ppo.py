"""Behaviour cloning then PPO (``bc_ppo``) on the structured tool-use env: cloning reaches
the expert's optimum on held-out worlds, PPO continues from it, checkpoints keep the stage,
and envs without an expert are refused clearly."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.deep.bc_ppo import BCPPO, BCPPOConfig, record_demonstrations

ENV_ID = "palaestra/ToolUseStructured-v0"
# One transformer layer and a larger cloning step size: ~10 s on one core.
SMALL = BCPPOConfig(
    device="cpu",
    bc_episodes=300,
    bc_epochs=20,
    bc_batch_size=64,
    bc_learning_rate=2e-3,
    layers=1,
    n_envs=2,
    n_steps=32,
)


def lookup_env() -> gym.Env:
    return gym.make(ENV_ID, task_types=["lookup"], difficulty=0)


def success_rate(agent: BCPPO, episodes: int = 50) -> tuple[float, float]:
    """(success rate, mean calls beyond the minimum) on held-out seeds."""
    env = lookup_env()
    successes, extra = [], []
    for i in range(episodes):
        obs, info = env.reset(seed=500_000 + i)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs))
            done = terminated or truncated
        successes.append(info["is_success"])
        extra.append(info["calls"] + info["invalid_calls"] - info["min_calls"])
    return float(np.mean(successes)), float(np.mean(extra))


def test_demonstrations_are_the_experts_optimal_episodes() -> None:
    demos = record_demonstrations(lookup_env(), 20, gamma=0.9, seed=0)
    # A lookup task is one lookup then the answer: two steps, return 1 - 0.01.
    assert demos["success"] == 1.0 and len(demos["actions"]) == 40
    assert demos["masks"][np.arange(40), demos["actions"]].all()  # the expert obeys masks
    np.testing.assert_allclose(demos["returns"][0::2], 0.9 * 1.0 - 0.01, rtol=1e-6)
    np.testing.assert_allclose(demos["returns"][1::2], 1.0)


def test_cloning_reaches_the_experts_optimum_on_unseen_worlds() -> None:
    env = lookup_env()
    agent = BCPPO(env.observation_space, env.action_space, SMALL, seed=0)
    assert success_rate(agent, 20)[0] < 0.2  # an untrained policy does not answer right
    agent.learn(env, 64)  # cloning, then one PPO rollout
    assert agent.bc_done and agent.bc_stats["expert_success"] == 1.0
    success, extra_calls = success_rate(agent)
    assert success >= 0.95 and extra_calls <= 0.1


def test_checkpoints_keep_the_stage_and_act_identically(tmp_path) -> None:
    env = lookup_env()
    config = dataclasses.replace(SMALL, bc_episodes=10, bc_epochs=1)
    agent = BCPPO(env.observation_space, env.action_space, config, seed=1)
    agent.learn(env, 64)
    loaded = BCPPO.load(agent.save(tmp_path / "bc_ppo.pt"))
    assert loaded.bc_done and loaded.bc_stats == agent.bc_stats
    obs, _ = env.reset(seed=3)
    assert loaded.act(obs) == agent.act(obs)


def test_an_env_without_an_expert_is_refused_naming_the_way_out() -> None:
    env = gym.make("CartPole-v1")
    agent = BCPPO(env.observation_space, env.action_space, SMALL, seed=0)
    with pytest.raises(ValueError, match="bc_episodes=0"):
        agent.learn(env, 64)


def test_config_checks_name_the_field() -> None:
    with pytest.raises(ValueError, match="heads"):
        BCPPOConfig(d_model=30, heads=4)
    with pytest.raises(ValueError, match="bc_epochs"):
        BCPPOConfig(bc_epochs=0)
