"""Slow learning checks for PPO and A2C (``python -m pytest -m slow``).

CartPole-v1 uses the time-to-solve rule of ``benchmarks/sb3_cartpole.py`` (a 20-episode
greedy evaluation every 5k steps reaching a mean of 475) within RL Baselines3 Zoo's
budgets, in at least 4 of 5 seeds. The GridWorld check compares the greedy return with the
value-iteration optimum of the same map.

Measured on 2 shared cores: PPO ~5-15 s per seed, A2C ~1-3 min per seed (it needs 100k-300k
steps), GridWorld PPO ~9 s and A2C ~15 s per seed.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the palaestra ids)
from agents.deep.a2c import A2C, A2CConfig
from agents.deep.on_policy import OnPolicyAgent
from agents.deep.ppo import PPO, PPOConfig
from agents.evaluation import SolveTimer, run_episode
from agents.tabular import ValueIteration, ValueIterationConfig

pytestmark = pytest.mark.slow

# A sparse-reward maze needs exploration that CartPole's defaults (20 epochs on 256 steps, no
# entropy bonus) do not give: they can settle on walking into the hole (-0.06) before a
# random walk has found the goal (seed 2 did). Longer rollouts, 4 epochs and a small
# entropy bonus (CleanRL's and SB3's general-purpose values) find it in 8 of 8 seeds.
GRIDWORLD_PPO = PPOConfig(
    device="cpu",
    n_steps=128,
    n_epochs=4,
    ent_coef=0.01,
    gamma=0.99,
    gae_lambda=0.95,
    anneal_clip_range=False,
)
# A2C's Zoo defaults plus the same small entropy bonus: optimal after 5k-10k steps, 5 of 5
# seeds (measured).
GRIDWORLD_A2C = A2CConfig(device="cpu", ent_coef=0.01)


def solves_cartpole(cls: type[OnPolicyAgent], seed: int, budget: int) -> int | None:
    """Steps at which ``cls`` (default config, 8 envs) first evaluates at >= 475, or None."""
    env = gym.make_vec(
        "CartPole-v1",
        8,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )
    agent = cls(
        env.single_observation_space,
        env.single_action_space,
        cls.config_class(device="cpu"),
        seed=seed,
    )
    timer = SolveTimer(gym.make("CartPole-v1"), 475.0, every=5_000, episodes=20, seed=seed)
    agent.learn(env, budget, timer)
    return timer.solved_at


@pytest.mark.parametrize(("cls", "budget"), [(PPO, 100_000), (A2C, 500_000)])
def test_cartpole_solved_within_the_zoo_budget_in_4_of_5_seeds(
    cls: type[OnPolicyAgent], budget: int
) -> None:
    solved = [solves_cartpole(cls, seed, budget) for seed in range(5)]
    assert sum(s is not None for s in solved) >= 4, solved


@pytest.mark.parametrize(
    ("cls", "config"), [(PPO, GRIDWORLD_PPO), (A2C, GRIDWORLD_A2C)], ids=["ppo", "a2c"]
)
def test_reaches_the_value_iteration_optimum_on_gridworld_grid_observations(
    cls: type[OnPolicyAgent], config: PPOConfig | A2CConfig
) -> None:
    index_env = gym.make("palaestra/GridWorld-v0")
    planner = ValueIteration(
        index_env.observation_space, index_env.action_space, ValueIterationConfig(0.99)
    )
    planner.learn(index_env, total_steps=0)
    optimum = run_episode(planner, index_env).episode_return
    assert optimum == pytest.approx(0.9)  # 11 moves around the wall at -0.01, +1 at the goal

    env = gym.make("palaestra/GridWorld-v0", observation_mode="grid")
    for seed in range(5):  # measured: optimal after 2k-10k steps, 8 of 8 seeds (PPO)
        agent = cls(env.observation_space, env.action_space, config, seed=seed)
        agent.learn(env, 20_480)
        # Deterministic env: one greedy episode is the policy's exact return.
        assert run_episode(agent, env).episode_return == pytest.approx(optimum), seed
