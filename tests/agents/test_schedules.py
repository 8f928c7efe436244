"""Schedules: exact values at the points that define them, and loud failure on bad input."""

from __future__ import annotations

import dataclasses

import pytest

from agents.common.schedules import (
    ConstantSchedule,
    ExponentialSchedule,
    LinearSchedule,
    Schedule,
)


def test_constant_is_the_same_at_every_step() -> None:
    schedule = ConstantSchedule(0.3)
    assert [schedule(step) for step in (0, 1, 10**9)] == [0.3, 0.3, 0.3]


def test_linear_hits_start_midpoint_and_end_then_stays_flat() -> None:
    schedule = LinearSchedule(start=1.0, end=0.1, duration=100)
    assert schedule(0) == 1.0
    assert schedule(50) == pytest.approx(0.55)
    assert schedule(100) == 0.1
    assert schedule(10_000) == 0.1


def test_linear_also_warms_up() -> None:
    schedule = LinearSchedule(start=0.0, end=3e-4, duration=10)
    assert schedule(5) == pytest.approx(1.5e-4)
    assert schedule(11) == 3e-4


def test_linear_with_zero_duration_is_at_the_end_immediately() -> None:
    assert LinearSchedule(1.0, 0.2, 0)(0) == 0.2


def test_linear_over_fraction_counts_steps_of_the_whole_run() -> None:
    schedule = LinearSchedule.over_fraction(1.0, 0.0, fraction=0.25, total_steps=1000)
    assert schedule.duration == 250
    assert schedule(125) == pytest.approx(0.5)
    assert schedule(250) == 0.0


def test_exponential_shrinks_the_gap_to_end_geometrically() -> None:
    schedule = ExponentialSchedule(start=1.0, end=0.1, decay=0.5)
    assert schedule(0) == 1.0
    assert schedule(1) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedule(3) == pytest.approx(0.1 + 0.9 * 0.125)
    assert schedule(10_000) == pytest.approx(0.1)


def test_exponential_from_half_life_halves_the_gap_every_half_life() -> None:
    schedule = ExponentialSchedule.from_half_life(start=2.0, end=0.0, half_life=100)
    assert schedule(100) == pytest.approx(1.0)
    assert schedule(200) == pytest.approx(0.5)


def test_schedules_are_frozen_data_and_satisfy_the_protocol() -> None:
    for schedule in (
        ConstantSchedule(1.0),
        LinearSchedule(1, 0, 5),
        ExponentialSchedule(1, 0, 0.9),
    ):
        assert isinstance(schedule, Schedule)
        rebuilt = type(schedule)(**dataclasses.asdict(schedule))
        assert rebuilt == schedule
        with pytest.raises(dataclasses.FrozenInstanceError):
            schedule.start = 2.0  # type: ignore[misc,union-attr]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LinearSchedule(1.0, 0.0, -1), "duration"),
        (lambda: LinearSchedule(float("nan"), 0.0, 10), "start"),
        (lambda: LinearSchedule.over_fraction(1.0, 0.0, 1.5, 100), "fraction"),
        (lambda: ExponentialSchedule(1.0, 0.0, 0.0), "decay"),
        (lambda: ExponentialSchedule(1.0, 0.0, 1.1), "decay"),
        (lambda: ExponentialSchedule.from_half_life(1.0, 0.0, 0), "half_life"),
        (lambda: ConstantSchedule(float("inf")), "value"),
    ],
)
def test_bad_parameters_name_the_parameter(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
