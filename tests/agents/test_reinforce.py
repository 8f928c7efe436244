"""REINFORCE: returns and losses against hand-computed numbers, learning on tiny problems
with a known optimum, reproducibility, checkpoints, the NaN guard and action masking."""

from __future__ import annotations

import math
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from on_policy_envs import N_STATES, IdentityEnv, MaskedEnv

import envs  # noqa: F401  (registers the palaestra ids)
from agents.base import Callback
from agents.common.rollout import compute_gae
from agents.common.torch_utils import NonFiniteError
from agents.deep.reinforce import Reinforce, ReinforceConfig, policy_gradient_losses
from agents.evaluation import SolveTimer, run_episode
from agents.registry import agent_class
from agents.tabular import ValueIteration, ValueIterationConfig

LN2 = math.log(2.0)


# ---------------------------------------------------------------------- tiny envs
class ScriptedEnv(gym.Env):
    """Rewards 1, 2, 3 whatever the action, then the episode ends as told.

    The observation is the step index, so the final observation differs from the others.
    """

    observation_space = spaces.Box(0.0, 10.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, ending: str = "terminated", rewards: tuple[float, ...] = (1, 2, 3)):
        self.ending = ending
        self.rewards = rewards
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: int):
        reward = float(self.rewards[self.t])
        self.t += 1
        end = self.t == len(self.rewards)
        obs = np.array([self.t], np.float32)
        return (
            obs,
            reward,
            end and self.ending == "terminated",
            end and self.ending != "terminated",
            {},
        )


class Recorder(Callback):
    def __init__(self) -> None:
        self.updates: list[dict[str, float]] = []
        self.lengths: list[int] = []

    def on_update(self, agent, metrics: dict[str, float]) -> None:
        self.updates.append(metrics)

    def on_episode_end(self, agent, episode) -> None:
        self.lengths.append(episode.length)


def plain_config(**overrides: Any) -> ReinforceConfig:
    """No normalisation and a constant step size: the numbers stay hand-computable."""
    fields = {
        "gamma": 0.5,
        "episodes_per_update": 1,
        "normalize_returns": False,
        "normalize_advantages": False,
        "anneal_lr": False,
        "device": "cpu",
    }
    return ReinforceConfig(**{**fields, **overrides})


def constant_networks(agent: Reinforce, value: float) -> None:
    """A uniform policy (zero logits) and a critic that says ``value`` everywhere."""
    with torch.no_grad():
        for head, bias in ((agent.policy.actor[-1], 0.0), (agent.policy.critic[-1], value)):
            head.weight.zero_()
            head.bias.fill_(bias)


# ---------------------------------------------------------------------- returns and losses
def test_gae_with_lambda_one_and_no_values_is_the_monte_carlo_return() -> None:
    # Two envs, rewards 1, 2, 3, gamma 0.5; env 0 terminates at the last step, env 1 is
    # truncated there with V(final obs) = 4. Then a first step of the next episodes.
    rewards = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [7.0, 7.0]])
    ended = torch.tensor([[False, False], [False, False], [True, True], [False, False]])
    terminated = ended & torch.tensor([True, False])
    truncated = ended & torch.tensor([False, True])
    final_values = torch.where(truncated, 4.0, 0.0)
    zeros = torch.zeros_like(rewards)
    _, returns = compute_gae(
        rewards, zeros, terminated, truncated, final_values, zeros[0], gamma=0.5, lam=1.0
    )
    # Terminated: 1 + .5*2 + .25*3, 2 + .5*3, 3. Truncated: the tail adds .5*4 at the end.
    np.testing.assert_allclose(returns[:3, 0], [2.75, 3.5, 3.0])
    np.testing.assert_allclose(returns[:3, 1], [3.25, 4.5, 5.0])
    np.testing.assert_allclose(returns[3], [7.0, 7.0])  # a new episode: nothing leaks back


@pytest.mark.parametrize(
    ("ending", "returns"),
    [
        # G = [1 + .5*2 + .25*3, 2 + .5*3, 3]: nothing after a terminal state.
        ("terminated", [2.75, 3.5, 3.0]),
        # The tail of a time-limited episode is worth V(final obs) = 4: 3 + .5*4 = 5, ...
        ("truncated", [3.25, 4.5, 5.0]),
    ],
)
def test_update_uses_monte_carlo_returns_minus_the_baseline(ending: str, returns: list) -> None:
    env = ScriptedEnv(ending)
    agent = Reinforce(env.observation_space, env.action_space, plain_config(), seed=0)
    constant_networks(agent, 4.0)
    recorder = Recorder()
    agent.learn(env, total_steps=3, callback=recorder)

    (metrics,) = recorder.updates
    advantages = np.array(returns) - 4.0
    # Uniform policy over 2 actions: log pi = -ln 2 for every step, entropy ln 2.
    assert metrics["policy_loss"] == pytest.approx(LN2 * advantages.mean(), rel=1e-6)
    assert metrics["value_loss"] == pytest.approx(np.mean(advantages**2), rel=1e-6)
    assert metrics["entropy"] == pytest.approx(LN2, rel=1e-6)
    assert metrics["batch_steps"] == 3


def test_policy_gradient_loss_on_a_tiny_case() -> None:
    log_probs = torch.tensor([-0.1, -2.0], requires_grad=True)
    values = torch.tensor([1.0, 0.0], requires_grad=True)
    targets = torch.tensor([3.0, 1.0])
    entropy = torch.tensor([0.5, 0.7])

    raw = policy_gradient_losses(log_probs, entropy, values, targets, normalize_advantages=False)
    # Advantages [2, 1]: -(-0.1*2 + -2*1)/2 = 1.1; value MSE (4 + 1)/2 = 2.5.
    assert raw["policy_loss"].item() == pytest.approx(1.1)
    assert raw["value_loss"].item() == pytest.approx(2.5)
    assert raw["entropy"].item() == pytest.approx(0.6)
    raw["policy_loss"].backward()
    # The baseline is detached: the policy loss pulls on log-probs only, by -A / n.
    assert values.grad is None
    np.testing.assert_allclose(log_probs.grad.numpy(), [-1.0, -0.5])

    normalised = policy_gradient_losses(
        log_probs, entropy, values, targets, normalize_advantages=True
    )
    # [2, 1] standardised (sample std 1/sqrt 2) is [1/sqrt 2, -1/sqrt 2].
    expected = -(-0.1 - -2.0) / math.sqrt(2) / 2
    assert normalised["policy_loss"].item() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------- learning
def one_hot(state: int) -> np.ndarray:
    obs = np.zeros(N_STATES, np.float32)
    obs[state] = 1.0
    return obs


def test_solves_the_identity_bandit_in_seconds() -> None:
    env = IdentityEnv()
    config = ReinforceConfig(learning_rate=3e-3, episodes_per_update=8, device="cpu")
    agent = Reinforce(env.observation_space, env.action_space, config, seed=0)
    start = time.perf_counter()
    agent.learn(env, total_steps=3_000)
    assert time.perf_counter() - start < 15
    assert [agent.act(one_hot(s)) for s in range(N_STATES)] == list(range(N_STATES))


def test_several_envs_feed_whole_episodes_across_updates() -> None:
    # Episodes of 3 and 5 steps end at different times, so some straddle an update.
    venv = SyncVectorEnv(
        [lambda: ScriptedEnv(rewards=(1, 2, 3)), lambda: ScriptedEnv(rewards=(1, 1, 1, 1, 1))],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    agent = Reinforce(
        venv.single_observation_space,
        venv.single_action_space,
        plain_config(episodes_per_update=3),
        seed=0,
    )
    recorder = Recorder()
    agent.learn(venv, total_steps=2 * 30, callback=recorder)
    assert agent.num_steps == 60
    used = sum(int(m["episodes"]) for m in recorder.updates)
    # Every step of every episode consumed by an update is used once, in whole episodes.
    assert sum(m["batch_steps"] for m in recorder.updates) == sum(recorder.lengths[:used])
    assert len(recorder.updates) >= 4


def test_n_envs_copies_a_single_env_from_its_spec() -> None:
    env = gym.make("CartPole-v1")
    config = ReinforceConfig(n_envs=4, device="cpu")
    agent = Reinforce(env.observation_space, env.action_space, config, seed=0)
    steps: list[int] = []

    class Steps(Callback):
        def on_step(self, agent, num_steps: int) -> bool:
            steps.append(num_steps)
            return len(steps) < 10

    agent.learn(env, total_steps=1_000, callback=Steps())
    assert steps == list(range(4, 44, 4))  # one vector step counts all four envs


def test_same_seed_gives_identical_parameters() -> None:
    def train(seed: int) -> dict[str, torch.Tensor]:
        env = gym.make("CartPole-v1")
        config = ReinforceConfig(episodes_per_update=2, device="cpu")
        agent = Reinforce(env.observation_space, env.action_space, config, seed=seed)
        recorder = Recorder()
        agent.learn(env, total_steps=1_500, callback=recorder)
        assert len(recorder.updates) >= 5
        return agent.policy.state_dict()

    first, second, other = train(7), train(7), train(8)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    assert not all(torch.equal(first[n], other[n]) for n in first)


def test_save_load_acts_the_same(tmp_path) -> None:
    env = gym.make("CartPole-v1")
    agent = Reinforce(env.observation_space, env.action_space, ReinforceConfig(device="cpu"), 1)
    agent.learn(env, total_steps=2_000)
    path = agent.save(tmp_path / "reinforce.pt")
    loaded = Reinforce.load(path)

    assert loaded.num_steps == agent.num_steps
    assert loaded.config == agent.config
    observations = np.random.default_rng(0).uniform(-0.5, 0.5, (200, 4)).astype(np.float32)
    assert [loaded.act(o) for o in observations] == [agent.act(o) for o in observations]
    # The sampling stream is saved too: the loaded agent draws the same random actions.
    sampled = [agent.act(o, deterministic=False) for o in observations]
    assert [loaded.act(o, deterministic=False) for o in observations] == sampled
    assert agent_class("reinforce") is Reinforce


def test_nan_reward_stops_training_naming_step_and_quantity() -> None:
    env = IdentityEnv(nan_reward_at=5)  # one-step episodes, one per update
    agent = Reinforce(env.observation_space, env.action_space, plain_config(), seed=0)
    with pytest.raises(NonFiniteError, match=r"non-finite returns at step 5\b"):
        agent.learn(env, total_steps=100)
    assert agent.num_updates == 4  # the episodes before were fine


def test_overflowing_loss_stops_training_naming_it() -> None:
    # Returns near float32's limit are finite, their squared error is not.
    env = ScriptedEnv(rewards=(1e38, 1e38, 1e38))
    agent = Reinforce(env.observation_space, env.action_space, plain_config(), seed=0)
    with pytest.raises(NonFiniteError, match=r"non-finite value_loss at step 3\b"):
        agent.learn(env, total_steps=100)
    assert agent.num_updates == 0


@pytest.mark.parametrize("mask_in", ["obs", "info"])
def test_masked_actions_are_never_chosen(mask_in: str) -> None:
    env = MaskedEnv(mask_in)
    config = ReinforceConfig(learning_rate=3e-3, episodes_per_update=8, device="cpu")
    agent = Reinforce(env.observation_space, env.action_space, config, seed=0)
    agent.learn(env, total_steps=3_000)
    assert env.violations == 0

    # The policy learned to pick the action equal to the state; where the mask forbids that
    # action, neither the greedy nor a sampled action is it.
    for state in range(N_STATES):
        mask = np.ones(N_STATES, np.int8)
        for allowed in (True, False):
            mask[state] = allowed
            obs, kwargs = (
                ({"obs": one_hot(state), "action_mask": mask}, {})
                if mask_in == "obs"
                else (one_hot(state), {"action_mask": mask})
            )
            greedy = agent.act(obs, **kwargs)
            sampled = {agent.act(obs, deterministic=False, **kwargs) for _ in range(100)}
            assert (greedy == state) == allowed
            assert all(mask[a] for a in sampled)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="episodes_per_update"):
        ReinforceConfig(episodes_per_update=0)
    with pytest.raises(ValueError, match="gamma"):
        ReinforceConfig(gamma=1.5)
    assert ReinforceConfig(hidden=[32, 32]).hidden == (32, 32)  # JSON round trip gives lists


# ---------------------------------------------------------------------- slow: benchmarks
@pytest.mark.slow
def test_cartpole_reaches_475_in_four_of_five_seeds() -> None:
    solved = []
    for seed in range(5):
        env = gym.make("CartPole-v1")
        agent = Reinforce(env.observation_space, env.action_space, ReinforceConfig(), seed=seed)
        timer = SolveTimer(gym.make("CartPole-v1"), 475.0, every=5_000, seed=10_000 + seed)
        agent.learn(env, total_steps=200_000, callback=timer)
        print(f"CartPole-v1 seed {seed}: {timer.solved_at} steps, {timer.train_time_s:.1f} s")
        solved.append(timer.solved_at)
    assert sum(s is not None for s in solved) >= 4, solved


@pytest.mark.slow
def test_gridworld_grid_observations_reach_the_value_iteration_optimum() -> None:
    index_env = gym.make("palaestra/GridWorld-v0")
    planner = ValueIteration(
        index_env.observation_space, index_env.action_space, ValueIterationConfig(gamma=0.99)
    )
    planner.learn(index_env, total_steps=0)
    optimum = run_episode(planner, index_env).episode_return
    assert optimum == pytest.approx(0.9)

    env = gym.make("palaestra/GridWorld-v0", observation_mode="grid")
    eval_env = gym.make("palaestra/GridWorld-v0", observation_mode="grid")
    agent = Reinforce(env.observation_space, env.action_space, ReinforceConfig(), seed=0)
    # Deterministic env: one greedy episode is the policy's exact return.
    timer = SolveTimer(eval_env, optimum - 1e-9, every=2_000, episodes=1)
    agent.learn(env, total_steps=100_000, callback=timer)
    assert timer.solved_at is not None, timer.evaluations
    assert run_episode(agent, eval_env).episode_return == pytest.approx(optimum)
