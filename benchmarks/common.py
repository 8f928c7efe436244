"""Helpers the benchmark scripts share: headless matplotlib and medians of steps to solve."""

from __future__ import annotations

import statistics
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def median_steps(values: list[int | None]) -> float | None:
    """Median of steps to solve, with a run that never solved (None) counted as more than
    the budget; None if the median itself is such a run."""
    ordered = sorted(v if v is not None else float("inf") for v in values)
    median = statistics.median(ordered) if ordered else float("inf")
    return None if median == float("inf") else float(median)
