"""EvalCurve and SolveTimer: when they evaluate, what they record, when SolveTimer stops."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.evaluation import EvalCurve, SolveTimer

# TinyGrid: (0, 0) to (2, 2) in four moves; -0.01 a step, +1 at the goal.
OPTIMUM = 0.97


class Scripted:
    """Walks right then down (the optimum) once ``good`` is set; before that, always up
    (into the wall until the 50-step limit)."""

    def __init__(self) -> None:
        self.good = False
        self.t = 0

    def start_episode(self) -> None:
        self.t = 0

    def act(self, obs: Any, deterministic: bool = True) -> int:
        self.t += 1
        if not self.good:
            return 3
        return 1 if self.t <= 2 else 2


def tiny() -> gym.Env:
    return gym.make("palaestra/TinyGrid-v0")


def test_eval_curve_checks_on_schedule_records_and_keeps_learning() -> None:
    agent = Scripted()
    curve = EvalCurve(tiny(), every=100, episodes=2, threshold=OPTIMUM - 1e-9)
    assert curve.evaluate(agent, 0) == pytest.approx(-0.5)  # 50 steps into the wall
    for step in range(1, 451):
        agent.good = step >= 250
        assert curve.on_step(agent, step)  # never stops learning
    assert [s for s, _ in curve.evaluations] == [0, 100, 200, 300, 400]
    assert [round(r, 2) for _, r in curve.evaluations] == [-0.5, -0.5, -0.5, 0.97, 0.97]
    assert curve.solved_at == 300


def test_a_late_step_catches_up_to_the_schedule_in_one_check() -> None:
    curve = EvalCurve(tiny(), every=100, episodes=1)
    curve.on_step(Scripted(), 350)  # e.g. a vector env stepping 350 at once
    assert [s for s, _ in curve.evaluations] == [350] and curve.next_check == 400
    assert curve.solved_at is None  # no threshold, never solved


def test_solve_timer_stops_at_the_first_check_that_reaches_the_threshold() -> None:
    agent = Scripted()
    timer = SolveTimer(tiny(), OPTIMUM - 1e-9, every=100, episodes=1)
    steps = 0
    for steps in range(1, 1_000):
        agent.good = steps >= 250
        if not timer.on_step(agent, steps):
            break
    assert steps == 300 and timer.solved_at == 300
    assert len(timer.evaluations) == 3 and timer.train_time_s >= 0.0


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="every and episodes"):
        EvalCurve(tiny(), every=0)
