"""TD agents learn Gymnasium's CliffWalking to answers derived from its exact model.

Q-learning is off-policy, so its greedy policy must reach the optimum (-13, along the cliff
edge). SARSA and Expected SARSA with a constant exploration rate epsilon converge to the
best *epsilon-greedy* policy instead, which value iteration on the model computes exactly
(``value_iteration(..., epsilon=...)``): for epsilon = 0.1 and gamma = 0.99 its greedy
path keeps one row away from the cliff (-15). The textbook's -17 top-row path for SARSA is
not that fixed point; it is what the noise of alpha = 0.5 produces.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.evaluation import run_episode
from agents.tabular import (
    ExpectedSarsa,
    ExpectedSarsaConfig,
    QLearning,
    QLearningConfig,
    Sarsa,
    SarsaConfig,
    TabularAgent,
    TabularModel,
    ValueIteration,
    value_iteration,
)

GAMMA = 0.99
EPSILON = 0.1
# CliffWalking-v1 has no time limit: a greedy policy that loops must still end the check.
MAX_STEPS = 1_000


def greedy_return(agent: TabularAgent, env: gym.Env) -> float:
    return run_episode(agent, env, max_steps=MAX_STEPS).episode_return


def planned_greedy_return(env: gym.Env, epsilon: float) -> float:
    """Greedy return of the best epsilon-greedy policy (epsilon = 0: of the optimal one)."""
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.q[...] = value_iteration(TabularModel.from_env(env), GAMMA, epsilon=epsilon).q
    return greedy_return(planner, env)


@pytest.fixture(scope="module")
def cliff() -> gym.Env:
    return gym.make("CliffWalking-v1")


def test_the_derived_answers_are_the_known_paths(cliff: gym.Env) -> None:
    assert planned_greedy_return(cliff, 0.0) == -13.0
    assert planned_greedy_return(cliff, EPSILON) == -15.0


def learn_q_learning(env: gym.Env, seed: int) -> QLearning:
    agent = QLearning(env.observation_space, env.action_space, QLearningConfig(), seed=seed)
    agent.learn(env, total_steps=30_000)
    return agent


def learn_expected_sarsa(env: gym.Env, seed: int) -> ExpectedSarsa:
    # No sampled next action, so a large step size is stable (van Seijen et al. 2009).
    config = ExpectedSarsaConfig(alpha=0.5, epsilon_start=EPSILON, epsilon_end=EPSILON)
    agent = ExpectedSarsa(env.observation_space, env.action_space, config, seed=seed)
    agent.learn(env, total_steps=20_000)
    return agent


def learn_sarsa(env: gym.Env, seed: int) -> Sarsa:
    # SARSA's sampled targets are noisy near the cliff (-100); a small step size keeps the
    # row-0 / row-1 preference at its fixed point instead of flipping with each fall.
    config = SarsaConfig(alpha=0.03, epsilon_end=EPSILON, epsilon_decay_steps=5_000)
    agent = Sarsa(env.observation_space, env.action_space, config, seed=seed)
    agent.learn(env, total_steps=100_000)
    return agent


def test_q_learning_reaches_the_optimum(cliff: gym.Env) -> None:
    assert greedy_return(learn_q_learning(cliff, seed=0), cliff) == planned_greedy_return(cliff, 0)


def test_expected_sarsa_reaches_the_best_epsilon_greedy_policy(cliff: gym.Env) -> None:
    agent = learn_expected_sarsa(cliff, seed=0)
    assert greedy_return(agent, cliff) == planned_greedy_return(cliff, EPSILON)
    # Its values approach the epsilon-soft fixed point too, near the start at least.
    soft = value_iteration(TabularModel.from_env(cliff), GAMMA, epsilon=EPSILON)
    start = 36
    assert agent.q[start].max() == pytest.approx(soft.q[start].max(), abs=1.0)


def test_sarsa_reaches_the_best_epsilon_greedy_policy(cliff: gym.Env) -> None:
    agent = learn_sarsa(cliff, seed=0)
    assert greedy_return(agent, cliff) == planned_greedy_return(cliff, EPSILON)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("learn", "epsilon"),
    [(learn_q_learning, 0.0), (learn_expected_sarsa, EPSILON), (learn_sarsa, EPSILON)],
)
def test_the_learned_paths_hold_across_seeds(cliff: gym.Env, learn, epsilon: float) -> None:
    expected = planned_greedy_return(cliff, epsilon)
    returns = [greedy_return(learn(cliff, seed), cliff) for seed in range(1, 21)]
    assert np.all(np.array(returns) == expected), returns
