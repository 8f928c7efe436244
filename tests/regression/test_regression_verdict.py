"""Verdicts on synthetic curves: identical, noise, regression, stale, and the failure text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.regression.baseline import CurveSet
from training.regression.case import RegressionCase
from training.regression.verdict import UNCHANGED, compare, describe_changes

CASE = RegressionCase(
    "synthetic",
    "palaestra/TinyGrid-v0",
    "q_learning",
    steps=4000,
    seeds=(0, 1, 2, 3, 4),
    eval_every=1000,
    tolerance=0.1,
)
# Five seeds that learn at different times, then hold the optimum 0.9.
BASE = np.array(
    [
        [-1.0, 0.9, 0.9, 0.9],
        [-1.0, -0.06, 0.9, 0.9],
        [-0.06, 0.9, 0.9, 0.9],
        [-1.0, -1.0, 0.9, 0.9],
        [-0.06, 0.9, 0.9, 0.9],
    ]
)


def curve_set(returns: np.ndarray, seeds: tuple[int, ...] = CASE.seeds, case=CASE) -> CurveSet:
    return CurveSet(case.name, case.definition(), case.eval_steps, seeds, returns)


BASELINE = curve_set(BASE)


def test_the_same_curves_are_identical() -> None:
    verdict = compare(CASE, curve_set(BASE.copy()), BASELINE)
    assert verdict.status == "identical" and not verdict.failed
    assert verdict.summary() == "synthetic: identical (bit-identical to the baseline)"


def test_the_same_curves_in_another_seed_order_are_identical() -> None:
    reordered = curve_set(BASE[::-1].copy(), seeds=CASE.seeds[::-1])
    assert compare(CASE, reordered, BASELINE).status == "identical"


def test_a_last_bit_change_goes_to_the_statistics_and_passes() -> None:
    nudged = BASE.copy()
    nudged[2, 3] = np.nextafter(0.9, 0)
    verdict = compare(CASE, curve_set(nudged), BASELINE)
    assert verdict.status == "pass"
    assert verdict.note == "same seeds, different curves"


def test_other_seeds_learning_at_other_times_are_noise() -> None:
    fresh = BASE[[3, 0, 1, 4, 2]].copy()
    fresh[:, 0] = -1.0  # all five late at the first point: still within what seeds do
    verdict = compare(CASE, curve_set(fresh, seeds=(10, 11, 12, 13, 14)), BASELINE)
    assert verdict.status == "pass", verdict.failure_message()
    assert verdict.note == "new seeds"


def test_curves_that_never_learn_regress_at_the_points_and_on_the_area() -> None:
    broken = np.full_like(BASE, -1.0)
    verdict = compare(CASE, curve_set(broken), BASELINE)
    assert verdict.status == "regressed" and verdict.failed
    # Not at step 2,000: one baseline seed had not learned by then either, and a resample
    # of the five baseline runs drawing it four times (0.7%) is likelier than the 0.1% allowed.
    assert [f.step for f in verdict.regressions] == [3000, 4000, None]
    final = verdict.regressions[-2]
    assert (final.new, final.baseline) == (-1.0, 0.9)
    assert final.high < -CASE.tolerance


def test_failure_message_names_case_step_amount_and_png() -> None:
    broken = BASE.copy()
    broken[:, 2:] = -0.06  # every seed falls into the hole from step 3,000 on
    verdict = compare(CASE, curve_set(broken), BASELINE)
    png = Path("runs/regression/synthetic.png")
    message = verdict.failure_message(png)
    lines = message.splitlines()
    assert lines[0].startswith("REGRESSION in case 'synthetic': regressed")
    assert "at step 3,000: IQM return -0.060 vs baseline 0.900 (-0.960;" in message
    assert "at step 4,000:" in message
    assert "tolerance 0.1" in message
    assert lines[-1] == f"  plot: {png}"
    assert "worst step 3,000 -0.960" in verdict.summary()


def test_long_failures_list_the_first_points_and_summarise_the_rest() -> None:
    case = CASE.with_changes(eval_every=250)
    base = np.repeat(BASE, 4, axis=1)
    verdict = compare(
        case, curve_set(np.full_like(base, -1.0), case=case), curve_set(base, case=case)
    )
    message = verdict.failure_message(max_points=2)
    assert message.count("IQM return") == 3  # two points and the area
    assert "on the area under the curve (mean return): IQM return -1.000" in message
    assert "also significantly below at steps" in message


def test_improvements_are_reported_and_pass() -> None:
    better = np.full_like(BASE, 0.9)
    verdict = compare(CASE, curve_set(better), BASELINE)
    assert verdict.status == "improved" and not verdict.failed
    assert verdict.improvements


def test_no_baseline_and_a_changed_case_fail_with_what_to_do() -> None:
    missing = compare(CASE, BASELINE, None)
    assert missing.failed and "palaestra regress bless synthetic" in missing.failure_message()
    changed = CASE.with_changes(overrides={"agent.alpha": 0.2})
    stale = compare(changed, curve_set(BASE, case=changed), BASELINE)
    assert stale.status == "stale" and stale.failed
    assert "(set)" in stale.note and "palaestra regress bless synthetic" in stale.note


def test_the_verdict_is_reproducible() -> None:
    fresh = curve_set(BASE[[1, 1, 2, 3, 3]], seeds=(5, 6, 7, 8, 9))
    a, b = compare(CASE, fresh, BASELINE), compare(CASE, fresh, BASELINE)
    np.testing.assert_array_equal(a.points.low, b.points.low)
    np.testing.assert_array_equal(a.auc.high, b.auc.high)


def test_describe_changes_for_a_bless() -> None:
    assert describe_changes(None, BASELINE) == ["new baseline: 5 seed(s), 4 points"]
    assert describe_changes(BASELINE, curve_set(BASE.copy())) == UNCHANGED
    worse = BASE.copy()
    worse[:, 3] = 0.5
    lines = describe_changes(BASELINE, curve_set(worse, seeds=(0, 1, 2, 3, 5)))
    assert lines[0] == "changed:"
    assert "  seeds: [0, 1, 2, 3, 4] -> [0, 1, 2, 3, 5]" in lines
    assert "  IQM at step 4,000: 0.9 -> 0.5 (-0.4)" in lines
    assert lines[-1].startswith("  IQM of the area under the curve:")
