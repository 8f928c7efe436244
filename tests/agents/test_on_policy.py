"""PPO and A2C: learning a known optimum, determinism, checkpoints, NaN guard, action masks,
tensor observations. One-step tasks keep every test to a few seconds."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from on_policy_envs import (
    N_STATES,
    IdentityEnv,
    MaskedEnv,
    TargetEnv,
    TensorIdentityVecEnv,
    vector,
)

from agents.base import Callback
from agents.common.torch_utils import NonFiniteError
from agents.deep.a2c import A2C, A2CConfig
from agents.deep.on_policy import OnPolicyAgent
from agents.deep.ppo import PPO, PPOConfig
from agents.registry import agent_class

# Per learner: a config that solves the one-step tasks in a few thousand steps, and the
# steps it gets. PPO runs its defaults; A2C its defaults with a larger step size, because
# 7e-4 (tuned for CartPole's long episodes) needs ~10x more one-step episodes.
LEARNERS: dict[str, tuple[type[OnPolicyAgent], Any, int]] = {
    "ppo": (PPO, PPOConfig(device="cpu"), 4_000),
    "a2c": (A2C, A2CConfig(device="cpu", learning_rate=5e-3), 6_000),
}


def make(name: str, env: Any, seed: int = 0, **overrides: Any) -> OnPolicyAgent:
    cls, config, _ = LEARNERS[name]
    config = dataclasses.replace(config, **overrides)
    return cls(env.single_observation_space, env.single_action_space, config, seed=seed)


def identity_accuracy(agent: OnPolicyAgent) -> float:
    """Fraction of states where the greedy action is the optimal one (1 = optimal)."""
    return float(np.mean([agent.act(np.eye(N_STATES, dtype=np.float32)[s]) == s for s in range(4)]))


@pytest.mark.parametrize("name", list(LEARNERS))
def test_registered_under_its_command_line_name(name: str) -> None:
    assert agent_class(name) is LEARNERS[name][0]


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learner_solves_the_identity_task(name: str) -> None:
    env = vector(IdentityEnv)
    agent = make(name, env, seed=0)
    assert identity_accuracy(agent) < 1.0  # not solved by its initial weights
    agent.learn(env, LEARNERS[name][2])
    assert identity_accuracy(agent) == 1.0


@pytest.mark.parametrize("name", list(LEARNERS))
def test_gaussian_policy_learns_a_continuous_target_within_the_action_bounds(name: str) -> None:
    env = vector(TargetEnv)
    agent = make(name, env, seed=0)
    agent.learn(env, 8_000)
    targets = np.linspace(-1.0, 1.0, 9, dtype=np.float32)
    misses = [abs(float(agent.act(np.array([x]))[0]) - x) for x in targets]
    assert max(misses) < 0.2  # the optimum is 0; a random policy misses by ~1
    assert sum(e.out_of_bounds for e in env.envs) == 0  # samples are clipped into the Box


@pytest.mark.parametrize("name", list(LEARNERS))
def test_same_seed_gives_identical_first_updates_on_cpu(name: str) -> None:
    def trained() -> OnPolicyAgent:
        env = vector(IdentityEnv)
        agent = make(name, env, seed=7)
        agent.learn(env, 3 * agent.config.n_steps * env.num_envs)  # three updates
        return agent

    a, b = trained(), trained()
    assert a.num_updates == b.num_updates == 3
    for (key, pa), pb in zip(
        a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), key
    # ... and the updates did change the network.
    fresh = make(name, vector(IdentityEnv), seed=7).policy.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in a.policy.state_dict().items())


@pytest.mark.parametrize("name", list(LEARNERS))
def test_save_load_acts_identically(name: str, tmp_path) -> None:
    env = vector(IdentityEnv)
    agent = make(name, env, seed=1)
    agent.learn(env, 1_000)
    path = agent.save(tmp_path / f"{name}.pt")
    loaded = type(agent).load(path)
    assert loaded.num_steps == agent.num_steps and loaded.config == agent.config
    observations = np.random.default_rng(0).random((64, N_STATES), dtype=np.float32)
    for obs in observations:
        assert loaded.act(obs) == agent.act(obs)
    # The sampling stream is saved too: the loaded agent explores the same way.
    sampled = [agent.act(obs, deterministic=False) for obs in observations]
    assert [loaded.act(obs, deterministic=False) for obs in observations] == sampled
    # Optimizer state and sampling stream are restored: training on continues identically.
    for learner in (agent, loaded):
        env = vector(IdentityEnv)
        env.reset(seed=9)  # learn() resumes without re-seeding; seed the env here instead
        learner.learn(env, 2_000)
    for key, value in agent.policy.state_dict().items():
        assert torch.equal(value, loaded.policy.state_dict()[key]), key


@pytest.mark.parametrize("name", list(LEARNERS))
def test_nan_reward_stops_training_naming_step_and_quantity(name: str) -> None:
    env = vector(lambda: IdentityEnv(nan_reward_at=30))
    agent = make(name, env)
    with pytest.raises(NonFiniteError, match=r"non-finite rewards at step \d+"):
        agent.learn(env, 10_000)
    assert agent.num_steps < 10_000


@pytest.mark.parametrize("name", list(LEARNERS))
def test_exploding_learning_rate_stops_training_naming_step_and_quantity(name: str) -> None:
    env = vector(IdentityEnv)
    agent = make(name, env, learning_rate=1e38, max_grad_norm=0.0, anneal_lr=False)
    with pytest.raises(
        NonFiniteError,
        match=r"non-finite (policy_loss|value_loss|parameter '.+'|values) at step \d+",
    ):
        agent.learn(env, 20_000)
    assert agent.num_steps < 20_000


@pytest.mark.parametrize("mask_in", ["obs", "info"])
@pytest.mark.parametrize("name", list(LEARNERS))
def test_masked_actions_are_never_taken(name: str, mask_in: str) -> None:
    env = vector(lambda: MaskedEnv(mask_in))
    agent = make(name, env, seed=2)
    agent.learn(env, 2_000)
    assert sum(e.steps for e in env.envs) >= 2_000
    assert sum(e.violations for e in env.envs) == 0
    # Greedy actions respect the mask too, even where the network prefers a masked one.
    probe = MaskedEnv(mask_in)
    obs, info = probe.reset(seed=5)
    for _ in range(200):
        mask = info.get("action_mask")
        action = agent.act(obs, action_mask=mask)
        obs, _, _, _, info = probe.step(action)
    assert probe.violations == 0


@pytest.mark.parametrize("name", list(LEARNERS))
def test_tensor_observation_env_trains_without_a_host_round_trip(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TensorIdentityVecEnv()
    agent = make(name, env, seed=3)

    def guard(method: str) -> None:
        original = getattr(torch.Tensor, method)

        def checked(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if self.data_ptr() in env.handed_out:
                raise AssertionError(f"observation tensor went to the host via .{method}()")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, checked)

    for method in ("numpy", "__array__", "tolist", "item"):
        guard(method)
    seen_truncation = []

    class Watch(Callback):
        def on_episode_end(self, agent: Any, episode: Any) -> None:
            seen_truncation.append(episode.length == env.limit and episode.episode_return == 0)

    agent.learn(env, LEARNERS[name][2], Watch())
    monkeypatch.undo()
    assert any(seen_truncation)  # the truncation path (bootstrap from final_obs) was taken
    assert identity_accuracy(agent) == 1.0


def test_ppo_target_kl_stops_the_epochs_early(monkeypatch: pytest.MonkeyPatch) -> None:
    def gradient_steps(**overrides: Any) -> int:
        env = vector(IdentityEnv)
        agent = make("ppo", env, **overrides)
        calls = []
        step = agent.gradient_step
        monkeypatch.setattr(agent, "gradient_step", lambda loss: calls.append(1) or step(loss))
        agent.learn(env, 2 * 256)  # two updates of 20 epochs x 1 minibatch
        return len(calls)

    assert gradient_steps() == 40
    # The first minibatch of an update has ratio 1 (KL 0) and is applied; the next one
    # already exceeds a tiny target, so each update stops after one step.
    assert gradient_steps(target_kl=1e-9) == 2


def test_single_env_is_vectorised_from_its_spec() -> None:
    env = gym.make("CartPole-v1")
    agent = PPO(env.observation_space, env.action_space, PPOConfig(device="cpu", n_envs=4))
    steps: list[int] = []

    class Record(Callback):
        def on_step(self, agent: Any, num_steps: int) -> bool:
            steps.append(num_steps)
            return True

    agent.learn(env, 256, Record())
    assert steps[:3] == [4, 8, 12]  # four copies step together
    assert agent.num_steps == 256


def test_config_rejects_bad_values_with_the_field_name() -> None:
    with pytest.raises(ValueError, match="gae_lambda must be in"):
        PPOConfig(gae_lambda=1.5)
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        A2CConfig(learning_rate=float("inf"))
    assert PPOConfig(hidden=[32, 32]).hidden == (32, 32)  # lists from YAML become tuples
