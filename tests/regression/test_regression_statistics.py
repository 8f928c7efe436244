"""IQM, stratified bootstrap intervals and the normalised area under a curve."""

from __future__ import annotations

import numpy as np
import pytest

from training.regression.statistics import (
    bootstrap_iqm,
    iqm,
    iqm_difference_interval,
    iqm_interval,
    normalized_auc,
    stable_seed,
)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([5.0], 5.0),
        ([1.0, 2.0, 3.0], 2.0),  # n = 3 cuts nothing: the mean
        ([100.0, 1.0, 2.0, 3.0, -50.0], 2.0),  # n = 5 cuts one from each end
        ([0, 1, 2, 3, 4, 5, 6, 7], 3.5),  # n = 8 keeps the middle four
        ([0, 0, 0, 0, 10, 10, 10, 10], 5.0),
    ],
)
def test_iqm_is_the_mean_of_the_middle_half(scores, expected) -> None:
    assert iqm(np.array(scores)) == pytest.approx(expected)


def test_iqm_agrees_with_scipy_trim_mean() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in range(1, 23):
        x = rng.normal(size=(n, 3))
        np.testing.assert_allclose(iqm(x), stats.trim_mean(x, 0.25, axis=0))


def test_iqm_ignores_one_outlier_in_five_runs() -> None:
    runs = np.array([0.9, 0.9, 0.9, 0.9, -1000.0])
    assert iqm(runs) == pytest.approx(0.9)


def test_bootstrap_resamples_whole_runs_across_columns() -> None:
    # Run i scores i at every point: a resample of whole runs gives equal columns.
    scores = np.repeat(np.arange(6.0)[:, None], 4, axis=1)
    boot = bootstrap_iqm(scores, 200, np.random.default_rng(1))
    assert boot.shape == (200, 4)
    np.testing.assert_array_equal(boot, np.repeat(boot[:, :1], 4, axis=1))


def test_identical_groups_give_a_zero_width_interval_only_without_spread() -> None:
    same = np.full((5, 2), 0.7)
    interval = iqm_difference_interval(
        same, same, confidence=0.95, samples=500, rng=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(interval.difference, [0.0, 0.0])
    np.testing.assert_array_equal(interval.low, [0.0, 0.0])
    np.testing.assert_array_equal(interval.high, [0.0, 0.0])


def test_interval_contains_the_estimate_and_excludes_zero_for_a_clear_shift() -> None:
    rng = np.random.default_rng(2)
    baseline = rng.normal(1.0, 0.1, size=(10, 3))
    new = rng.normal(0.0, 0.1, size=(10, 3))
    interval = iqm_difference_interval(
        new, baseline, confidence=0.99, samples=2000, rng=np.random.default_rng(3)
    )
    assert np.all(interval.low <= interval.difference)
    assert np.all(interval.difference <= interval.high)
    assert np.all(interval.high < -0.5)


def test_interval_of_same_distribution_covers_zero_and_narrows_with_more_runs() -> None:
    data = np.random.default_rng(4)

    def width(n: int) -> float:
        a, b = data.normal(size=(n, 1)), data.normal(size=(n, 1))
        interval = iqm_difference_interval(
            a, b, confidence=0.95, samples=4000, rng=np.random.default_rng(5)
        )
        assert interval.low[0] < 0 < interval.high[0]
        return float(interval.high[0] - interval.low[0])

    assert width(200) < width(10) / 2


def test_the_same_generator_seed_gives_the_same_interval() -> None:
    data = np.random.default_rng(6)
    new, baseline = data.normal(size=(5, 4)), data.normal(size=(5, 4))

    def run() -> tuple:
        rng = np.random.default_rng(stable_seed("some_case"))
        i = iqm_difference_interval(new, baseline, confidence=0.9, samples=1000, rng=rng)
        return i.low.tolist(), i.high.tolist()

    assert run() == run()
    assert stable_seed("some_case") == stable_seed("some_case") != stable_seed("other_case")


def test_iqm_interval_brackets_the_iqm() -> None:
    scores = np.random.default_rng(7).normal(size=(8, 5))
    center, low, high = iqm_interval(
        scores, confidence=0.9, samples=1000, rng=np.random.default_rng(0)
    )
    assert np.all(low <= center) and np.all(center <= high)


def test_normalized_auc_is_the_mean_return_over_the_step_range() -> None:
    curves = np.array([[0.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    # Trapezoids over steps 0..10..30: (0.5 * 10 + 1 * 20) / 30.
    np.testing.assert_allclose(normalized_auc(curves, [0, 10, 30]), [25 / 30, 2.0])
    np.testing.assert_array_equal(normalized_auc(np.array([[3.0], [4.0]]), [7]), [3.0, 4.0])
