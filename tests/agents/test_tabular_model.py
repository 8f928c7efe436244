"""TabularModel and value iteration: hand-built MDPs with closed-form answers, Gymnasium envs."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest

from agents.base import Callback
from agents.evaluation import run_episode
from agents.tabular import TabularModel, ValueIteration, ValueIterationConfig, value_iteration

GAMMA = 0.9
RIGHT, LEFT = 1, 0


def chain_transitions(n: int) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """States 0..n-1 in a row; moving right out of n-2 into n-1 ends with reward 1."""
    transitions: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
    for s in range(n - 1):
        right = (1.0, s + 1, 1.0, True) if s == n - 2 else (1.0, s + 1, 0.0, False)
        transitions[s] = {LEFT: [(1.0, max(s - 1, 0), 0.0, False)], RIGHT: [right]}
    transitions[n - 1] = {a: [(1.0, n - 1, 0.0, True)] for a in (LEFT, RIGHT)}
    return transitions


def chain_model(n: int = 4) -> TabularModel:
    return TabularModel.from_transition_dict(chain_transitions(n), n, 2)


def gamble_model(p_win: float = 0.3) -> TabularModel:
    """Action 0 banks 5 and ends; action 1 wins 10 with p_win, else nothing and try again."""
    transitions = {
        0: {0: [(1.0, 0, 5.0, True)], 1: [(p_win, 0, 10.0, True), (1 - p_win, 0, 0.0, False)]}
    }
    return TabularModel.from_transition_dict(transitions, 1, 2)


# ------------------------------------------------------------------ the model itself


def test_transition_dict_is_packed_and_padded_to_the_most_outcomes() -> None:
    model = gamble_model(0.3)
    assert model.prob.shape == (1, 2, 2)
    np.testing.assert_allclose(model.prob[0], [[1.0, 0.0], [0.3, 0.7]])
    np.testing.assert_allclose(model.expected_reward, [[5.0, 3.0]])
    assert model.terminated[0, 1].tolist() == [True, False]


def test_bellman_backup_matches_a_hand_computation() -> None:
    model = gamble_model(0.3)
    q = model.bellman_backup(np.array([2.0]), GAMMA)
    np.testing.assert_allclose(q, [[5.0, 0.3 * 10 + 0.7 * GAMMA * 2.0]])


def test_policy_return_counts_only_what_the_horizon_reaches() -> None:
    model = chain_model(4)  # the goal is 3 steps right of state 0
    go_right = np.full(4, RIGHT)
    assert model.policy_return(go_right, horizon=2)[0] == 0.0
    assert model.policy_return(go_right, horizon=3)[0] == 1.0
    assert model.policy_return(go_right, horizon=3, gamma=GAMMA)[0] == pytest.approx(GAMMA**2)


def test_from_env_reads_gymnasium_transition_dicts() -> None:
    model = TabularModel.from_env(gym.make("FrozenLake-v1"))
    assert model.prob.shape == (16, 4, 3)  # slippery: three outcomes per move
    np.testing.assert_allclose(model.prob.sum(axis=2), 1.0)
    assert model.terminated[14, 2].any() and model.reward[14, 2].max() == 1.0  # into the goal


class _Table(NamedTuple):
    next_state: np.ndarray
    prob: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray


class _ArraysAndDictEnv(gym.Env):
    """Offers both model forms, deliberately different, to see which one is used."""

    observation_space = gym.spaces.Discrete(4)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.P = chain_transitions(4)
        reference = chain_model(4)
        self._table = _Table(
            reference.next_state, reference.prob, reference.reward * 7.0, reference.terminated
        )

    def transition_arrays(self) -> _Table:
        return self._table


def test_from_env_prefers_transition_arrays_over_the_dict() -> None:
    model = TabularModel.from_env(_ArraysAndDictEnv())
    assert model.reward.max() == 7.0


def test_from_env_without_a_model_names_the_env() -> None:
    with pytest.raises(ValueError, match=r"'CartPole-v1' exposes no transition model"):
        TabularModel.from_env(gym.make("CartPole-v1"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t[1].__setitem__(RIGHT, [(0.5, 2, 0.0, False)]), "state 1, action 1 sum to 0.5"),
        (lambda t: t[1].__setitem__(RIGHT, [(1.0, 9, 0.0, False)]), "outside"),
        (lambda t: t.pop(2), "must list every state"),
    ],
)
def test_malformed_models_are_rejected_with_the_place(edit: Any, message: str) -> None:
    transitions = chain_transitions(4)
    edit(transitions)
    with pytest.raises(ValueError, match=message):
        TabularModel.from_transition_dict(transitions, 4, 2)


# ------------------------------------------------------------------ value iteration


def test_value_iteration_on_a_chain_discounts_the_distance_to_the_goal() -> None:
    n = 5
    result = value_iteration(chain_model(n), GAMMA, theta=1e-12)
    expected = [GAMMA ** (n - 2 - s) for s in range(n - 1)] + [0.0]
    np.testing.assert_allclose(result.values, expected, atol=1e-12)
    np.testing.assert_allclose(result.q[2, LEFT], GAMMA * expected[1], atol=1e-12)
    assert result.converged


def test_value_iteration_on_a_gamble_solves_its_fixed_point_equation() -> None:
    # V = max(5, 3 + 0.7 * gamma * V): retrying is worth 3 / (1 - 0.63) = 8.108... > 5.
    result = value_iteration(gamble_model(0.3), GAMMA, theta=1e-13)
    assert result.values[0] == pytest.approx(3.0 / (1.0 - 0.7 * GAMMA), abs=1e-10)
    assert result.q[0, 0] == 5.0
    # At p = 0.05 retrying is worth 0.5 + 0.855 * V < V for V = 5, so banking is optimal.
    banked = value_iteration(gamble_model(0.05), GAMMA)
    assert banked.values[0] == pytest.approx(5.0)
    assert banked.q[0].argmax() == 0


def test_value_iteration_on_a_reward_loop_sums_the_geometric_series() -> None:
    loop = TabularModel.from_transition_dict({0: {0: [(1.0, 0, 1.0, False)]}}, 1, 1)
    result = value_iteration(loop, GAMMA, theta=1e-10)
    assert result.values[0] == pytest.approx(1.0 / (1.0 - GAMMA), abs=1e-8)


def test_value_iteration_reports_when_it_runs_out_of_sweeps() -> None:
    loop = TabularModel.from_transition_dict({0: {0: [(1.0, 0, 1.0, False)]}}, 1, 1)
    agent = ValueIteration(
        gym.spaces.Discrete(1), gym.spaces.Discrete(1), ValueIterationConfig(max_iterations=3)
    )
    with pytest.warns(RuntimeWarning, match="after 3 sweeps"):
        result = agent.plan(loop)
    assert not result.converged
    gamma = agent.config.gamma
    assert result.values[0] == pytest.approx(1 + gamma + gamma**2)  # three sweeps from 0


class _Recorder(Callback):
    def __init__(self) -> None:
        self.updates: list[dict[str, float]] = []

    def on_update(self, agent: Any, metrics: dict[str, float]) -> None:
        self.updates.append(metrics)


def test_value_iteration_agent_solves_cliff_walking_without_stepping() -> None:
    env = gym.make("CliffWalking-v1")
    agent = ValueIteration(env.observation_space, env.action_space)
    recorder = _Recorder()
    agent.learn(env, total_steps=1_000, callback=recorder)
    assert agent.num_steps == 0
    assert len(recorder.updates) == 1
    assert recorder.updates[0]["iterations"] > 1
    assert recorder.updates[0]["residual"] < agent.config.theta
    assert run_episode(agent, env, max_steps=200).episode_return == -13.0


def test_value_iteration_greedy_return_equals_the_optimal_value_on_taxi() -> None:
    # Taxi is deterministic after the seeded start, so each greedy episode's undiscounted
    # return must be exactly V*(start) of the undiscounted problem.
    env = gym.make("Taxi-v4")
    agent = ValueIteration(env.observation_space, env.action_space, ValueIterationConfig(gamma=1.0))
    result = agent.plan(TabularModel.from_env(env))
    for seed in range(10):
        start, _ = env.reset(seed=seed)
        episode = run_episode(agent, env, seed=seed)
        assert episode.success
        assert episode.episode_return == pytest.approx(result.values[start], abs=1e-9)


def _epsilon_greedy_value(
    model: TabularModel, greedy: np.ndarray, eps: float, gamma: float
) -> np.ndarray:
    """Exact values of the epsilon-greedy policy around ``greedy``, by a linear solve."""
    s_count, a_count = model.n_states, model.n_actions
    pi = np.full((s_count, a_count), eps / a_count)
    pi[np.arange(s_count), greedy] += 1.0 - eps
    transition = np.zeros((s_count, s_count))
    continuing = model.prob * ~model.terminated
    for k in range(model.prob.shape[2]):
        np.add.at(
            transition,
            (np.arange(s_count)[:, None], model.next_state[:, :, k]),
            pi * continuing[:, :, k],
        )
    reward = (pi * model.expected_reward).sum(axis=1)
    return np.linalg.solve(np.eye(s_count) - gamma * transition, reward)


def test_epsilon_soft_value_iteration_finds_the_best_epsilon_greedy_policy() -> None:
    env = gym.make("CliffWalking-v1")
    model, eps, gamma = TabularModel.from_env(env), 0.1, 0.99
    soft = value_iteration(model, gamma, epsilon=eps)
    own = _epsilon_greedy_value(model, soft.q.argmax(axis=1), eps, gamma)
    np.testing.assert_allclose(own, soft.values, atol=1e-8)
    # Exploring next to the cliff is costly: the cliff-edge path of Q* is worse under epsilon.
    along_the_edge = _epsilon_greedy_value(
        model, value_iteration(model, gamma).q.argmax(1), eps, gamma
    )
    start = 36
    assert own[start] > along_the_edge[start] + 1.0
