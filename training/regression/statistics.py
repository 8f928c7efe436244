"""Interquartile mean and stratified bootstrap confidence intervals, in numpy.

The same estimators rliable (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
Precipice") recommends for few-run RL comparisons: the IQM discards the best and worst
quarter of the runs, so one lucky or unlucky seed moves it little, yet it uses more of the
data than the median; percentile bootstrap intervals over runs say how far it could move.

Each group of runs (the baseline's, the new ones) is a stratum resampled on its own, as
rliable resamples the runs of each task separately: the interval of a difference then
reflects the noise of both sides, whatever the two sides' run counts.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IQM_TRIM = 0.25  # fraction cut from each end, as scipy.stats.trim_mean(x, 0.25)


def iqm(scores: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean along ``axis``: mean of what is left after cutting
    ``floor(n / 4)`` runs from each end (scipy's ``trim_mean(x, 0.25)``)."""
    scores = np.sort(np.asarray(scores, dtype=np.float64), axis=axis)
    n = scores.shape[axis]
    cut = int(IQM_TRIM * n)
    kept = np.take(scores, np.arange(cut, n - cut), axis=axis)
    return kept.mean(axis=axis)


def bootstrap_iqm(scores: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """IQM of ``samples`` resamples (with replacement) of the rows of ``scores`` (runs, k).

    Returns (samples, k): the columns (evaluation points) share each resample of runs, so
    a run that is good early and bad late stays one run.
    """
    scores = np.asarray(scores, dtype=np.float64)
    rows = rng.integers(0, scores.shape[0], size=(samples, scores.shape[0]))
    return iqm(scores[rows], axis=1)


@dataclass(frozen=True)
class Interval:
    """Per-column point estimates of ``IQM(new) - IQM(baseline)`` and their interval."""

    new: np.ndarray  # (k,) IQM of the new runs
    baseline: np.ndarray  # (k,) IQM of the baseline runs
    difference: np.ndarray  # (k,) new - baseline
    low: np.ndarray  # (k,) lower bound of the difference
    high: np.ndarray  # (k,) upper bound of the difference
    confidence: float  # two-sided coverage of [low, high]


def iqm_difference_interval(
    new: np.ndarray,
    baseline: np.ndarray,
    *,
    confidence: float,
    samples: int,
    rng: np.random.Generator,
) -> Interval:
    """Stratified percentile-bootstrap interval of ``IQM(new) - IQM(baseline)`` per column.

    ``new`` is (n, k) and ``baseline`` (m, k): runs in rows, evaluation points (or any
    per-run statistic) in columns.
    """
    new = np.asarray(new, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    diffs = bootstrap_iqm(new, samples, rng) - bootstrap_iqm(baseline, samples, rng)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail], axis=0)
    new_iqm, base_iqm = iqm(new), iqm(baseline)
    return Interval(
        new=new_iqm,
        baseline=base_iqm,
        difference=new_iqm - base_iqm,
        low=low,
        high=high,
        confidence=confidence,
    )


def iqm_interval(
    scores: np.ndarray, *, confidence: float, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IQM, low, high) per column of ``scores`` (runs, k): the band plots draw."""
    boot = bootstrap_iqm(scores, samples, rng)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [tail, 1.0 - tail], axis=0)
    return iqm(scores), low, high


def normalized_auc(curves: np.ndarray, steps: Sequence[int]) -> np.ndarray:
    """Area under each curve (rows) over ``steps``, divided by the step range.

    Dividing keeps the area in return units (the mean return over training), so one
    tolerance serves the points and the area. A single point is its own area.
    """
    curves = np.asarray(curves, dtype=np.float64)
    x = np.asarray(steps, dtype=np.float64)
    if len(x) == 1:
        return curves[:, 0].copy()
    return np.trapezoid(curves, x, axis=1) / (x[-1] - x[0])


def stable_seed(text: str) -> int:
    """A seed derived from ``text`` that is the same in every process and Python version
    (``hash()`` is salted per process), so each case's bootstrap is reproducible."""
    return zlib.crc32(text.encode("utf-8"))
