"""Scalar schedules indexed by step: exploration rates, learning rates, clip ranges.

Every schedule is a frozen dataclass whose ``__call__(step)`` returns the value at that
step. Being plain data, a schedule can be written into a run's resolved config and rebuilt
from it, and it carries no hidden progress counter: the learner passes its own step count,
so a resumed run gets the value the uninterrupted run would have had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Schedule(Protocol):
    """Anything that maps a step count to a value."""

    def __call__(self, step: int) -> float: ...


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"schedule {name} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class ConstantSchedule:
    """The same value at every step (a schedule so that callers need no special case)."""

    value: float

    def __post_init__(self) -> None:
        _require_finite("value", self.value)

    def __call__(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class LinearSchedule:
    """Straight line from ``start`` at step 0 to ``end`` at ``duration``, then flat at ``end``.

    Works for decay (``start > end``, epsilon) and warm-up (``start < end``) alike.
    """

    start: float
    end: float
    duration: int
    """Steps taken to go from ``start`` to ``end``; 0 means ``end`` from the first step."""

    def __post_init__(self) -> None:
        _require_finite("start", self.start)
        _require_finite("end", self.end)
        if self.duration < 0:
            raise ValueError(f"LinearSchedule duration must be >= 0, got {self.duration}")

    @classmethod
    def over_fraction(
        cls, start: float, end: float, fraction: float, total_steps: int
    ) -> LinearSchedule:
        """The schedule that reaches ``end`` after ``fraction`` of ``total_steps``.

        This is how SB3 and CleanRL express exploration (``exploration_fraction``): the
        same config then suits a short test run and a long benchmark.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        if total_steps < 0:
            raise ValueError(f"total_steps must be >= 0, got {total_steps}")
        return cls(start, end, round(fraction * total_steps))

    def __call__(self, step: int) -> float:
        if step >= self.duration:
            return self.end
        return self.start + (self.end - self.start) * (step / self.duration)


@dataclass(frozen=True)
class ExponentialSchedule:
    """Geometric approach from ``start`` towards ``end``: the gap shrinks by ``decay`` per step.

    ``value(step) = end + (start - end) * decay**step``. Decaying the gap rather than the
    value makes ``end`` a true floor (or ceiling) instead of a clip that creates a kink.
    """

    start: float
    end: float
    decay: float
    """Factor applied to the remaining gap each step, in (0, 1]; 1 keeps ``start`` forever."""

    def __post_init__(self) -> None:
        _require_finite("start", self.start)
        _require_finite("end", self.end)
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"ExponentialSchedule decay must be in (0, 1], got {self.decay}")

    @classmethod
    def from_half_life(cls, start: float, end: float, half_life: float) -> ExponentialSchedule:
        """The schedule whose gap to ``end`` halves every ``half_life`` steps."""
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0, got {half_life}")
        return cls(start, end, 0.5 ** (1.0 / half_life))

    def __call__(self, step: int) -> float:
        return self.end + (self.start - self.end) * self.decay**step
