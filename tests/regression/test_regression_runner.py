"""Running a case: determinism, the evaluation schedule, and evaluation leaving training alone."""

from __future__ import annotations

import random
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401 - registers the palaestra ids
from agents.base import Agent, Callback
from agents.tabular import QLearning, QLearningConfig
from training.evaluation import evaluate
from training.regression.case import RegressionCase
from training.regression.runner import EvaluationSchedule, run_case, run_seed

TINY = "palaestra/TinyGrid-v0"
TINY_CASE = RegressionCase(
    "tiny", TINY, "q_learning", steps=1500, seeds=(0, 1), eval_every=300, eval_episodes=2
)


class NoisyGreedyQLearning(QLearning):
    """Q-learning whose greedy ``act`` draws from every generator before answering.

    A well-behaved agent draws nothing when acting greedily; this one makes evaluation
    consume the agent's generator (which exploration uses too) and the global python,
    numpy and torch streams, the worst case the schedule must survive.
    """

    def act(self, obs: Any, deterministic: bool = True) -> int:
        if deterministic:
            self.rng.random()
            random.random()
            np.random.random()  # noqa: NPY002 - the global stream is the point here
            torch.rand(1)
        return super().act(obs, deterministic)


class UnprotectedEvaluation(Callback):
    """Evaluates at the same steps as the schedule but without restoring generators."""

    def __init__(self, env: gym.Env, steps: tuple[int, ...]) -> None:
        self.env, self.steps = env, steps

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        if num_steps in self.steps:
            evaluate(agent, self.env, episodes=2, seed=0)
        return True


def train_q(callback: Callback | None) -> np.ndarray:
    env = gym.make(TINY)
    agent = NoisyGreedyQLearning(env.observation_space, env.action_space, QLearningConfig(), 0)
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002
    torch.manual_seed(0)
    agent.learn(env, 1500, callback)
    return agent.q.copy()


def test_evaluating_on_a_schedule_does_not_change_what_the_agent_learns() -> None:
    steps = (300, 600, 900, 1200, 1500)
    alone = train_q(None)
    schedule = EvaluationSchedule(gym.make(TINY), steps, episodes=2, seed=0)
    np.testing.assert_array_equal(train_q(schedule), alone)
    assert len(schedule.returns) == len(steps)
    # The test can see the difference: evaluating without restoring the generators changes
    # the exploration stream, and with it the learned table.
    assert not np.array_equal(train_q(UnprotectedEvaluation(gym.make(TINY), steps)), alone)


class SteppingAgent(Agent):
    """Takes ``stride`` steps at a time like a vector learner; acting records the step count."""

    name = "stepping_test"
    config_class = dict
    checkpoint_suffix = ".none"

    def __init__(self, stride: int, stop_at: int | None = None) -> None:
        super().__init__(gym.spaces.Discrete(9), gym.spaces.Discrete(4), config={})
        self.stride, self.stop_at = stride, stop_at
        self.acted_at: set[int] = set()

    def act(self, obs: Any, deterministic: bool = True) -> int:
        self.acted_at.add(self.num_steps)
        return 1

    def learn(self, env: gym.Env, total_steps: int, callback: Callback | None = None) -> None:
        assert callback is not None
        while self.num_steps < min(total_steps, self.stop_at or total_steps):
            self.num_steps += self.stride
            callback.on_step(self, self.num_steps)

    def save(self, path: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Any) -> Agent:
        raise NotImplementedError


def test_a_point_is_measured_at_the_first_step_count_past_it() -> None:
    agent = SteppingAgent(stride=4)
    schedule = EvaluationSchedule(gym.make(TINY), (5, 10, 11, 20), episodes=1, seed=0)
    agent.learn(gym.make(TINY), 20, schedule)
    curve = schedule.finish(agent)
    assert len(curve) == 4
    assert agent.acted_at == {8, 12, 20}  # 10 and 11 share the evaluation at step 12


def test_points_a_learner_never_reaches_get_its_final_policy() -> None:
    agent = SteppingAgent(stride=1, stop_at=6)  # stops early, as a callback might make it
    schedule = EvaluationSchedule(gym.make(TINY), (5, 10, 15), episodes=1, seed=0)
    agent.learn(gym.make(TINY), 15, schedule)
    assert len(schedule.returns) == 1
    curve = schedule.finish(agent)
    assert len(curve) == 3 and curve[1] == curve[2]
    assert agent.acted_at == {5, 6}


def test_the_same_seed_gives_a_bit_identical_curve() -> None:
    first = run_seed(TINY_CASE, 0)
    assert run_seed(TINY_CASE, 0) == first
    assert len(first) == len(TINY_CASE.eval_steps) == 5
    assert first[-1] == pytest.approx(0.97)  # TinyGrid's optimum: 3 steps at -0.01, +1


def test_run_case_stores_curves_per_seed_with_provenance() -> None:
    curves = run_case(TINY_CASE, seeds=(4, 2))
    assert curves.seeds == (4, 2)
    assert curves.returns.shape == (2, 5)
    np.testing.assert_array_equal(curves.curve(2), run_seed(TINY_CASE, 2))
    assert curves.definition == TINY_CASE.definition()
    for key in ("git_commit", "date", "versions", "wall_time_s"):
        assert key in curves.provenance
    assert curves.provenance["versions"]["numpy"] == np.__version__


def test_value_iteration_takes_no_steps_and_its_plan_fills_the_curve() -> None:
    case = RegressionCase("vi", TINY, "value_iteration", steps=10, seeds=(0,), eval_steps=(5, 10))
    assert run_seed(case, 0) == pytest.approx([0.97, 0.97])
