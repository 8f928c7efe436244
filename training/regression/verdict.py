"""Comparing a case's new curves with its baseline: identical, within noise, or regressed.

On CPU the same code and seeds reproduce a curve bit for bit, so the first question is
whether anything changed at all. Only when it did does statistics decide: at every
evaluation point and on the area under the curve, the interval of ``IQM(new) -
IQM(baseline)`` must not lie entirely below ``-tolerance``. The case's ``confidence`` covers
all of those tests together (Bonferroni: each test runs at ``1 - (1 - confidence) / tests``),
because a curve with ten points would otherwise get ten chances to raise a false alarm.
The bootstrap generator is seeded from the case name, so a verdict is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from training.regression.baseline import CurveSet
from training.regression.case import RegressionCase
from training.regression.statistics import (
    Interval,
    iqm,
    iqm_difference_interval,
    normalized_auc,
    stable_seed,
)

Status = Literal["identical", "pass", "improved", "regressed", "no baseline", "stale"]
FAILING: tuple[str, ...] = ("regressed", "no baseline", "stale")
AUC = "AUC"
UNCHANGED = ["unchanged: bit-identical to the previous baseline, file kept"]


@dataclass(frozen=True)
class Finding:
    """One test whose interval lies entirely beyond the tolerance (below or above)."""

    where: str  # "step 4,000" or "AUC"
    step: int | None  # None for the area under the curve
    new: float  # IQM of the new runs
    baseline: float  # IQM of the baseline runs
    difference: float  # new - baseline
    low: float  # interval of the difference
    high: float

    def describe(self, confidence: float, tolerance: float) -> str:
        """``at step 4,000: IQM return -1.000 vs baseline 0.900 (-1.900; ...)``."""
        what = (
            "on the area under the curve (mean return)" if self.step is None else f"at {self.where}"
        )
        return (
            f"{what}: IQM return {self.new:.3f} vs baseline {self.baseline:.3f} "
            f"({self.difference:+.3f}; {confidence:.2%} interval of the difference "
            f"[{self.low:+.3f}, {self.high:+.3f}], tolerance {tolerance:g})"
        )


@dataclass(frozen=True)
class Comparison:
    """The verdict on one case and the numbers behind it."""

    case: str
    status: Status
    tolerance: float
    confidence: float  # for the whole case
    test_confidence: float  # each test's, after the Bonferroni split
    eval_steps: tuple[int, ...] = ()
    points: Interval | None = None  # per evaluation point; None without a usable baseline
    auc: Interval | None = None  # one column
    regressions: list[Finding] = field(default_factory=list)
    improvements: list[Finding] = field(default_factory=list)
    note: str = ""  # why there was no test, or what differed from the baseline

    @property
    def failed(self) -> bool:
        """Whether this verdict should fail CI."""
        return self.status in FAILING

    def summary(self) -> str:
        """One line: case, status, the worst drop or the note."""
        line = f"{self.case}: {self.status}"
        if self.regressions:
            worst = min(self.regressions, key=lambda f: f.high)
            line += f" ({len(self.regressions)} test(s) below baseline; worst {worst.where} "
            line += f"{worst.difference:+.3f})"
        elif self.note:
            line += f" ({self.note})"
        return line

    def failure_message(self, png: Path | None = None, max_points: int = 4) -> str:
        """What failed, where, by how much, and which picture shows it.

        Lists the first ``max_points`` failing points (where the drop starts) and the area
        under the curve; the rest are summarised by their steps.
        """
        lines = [f"REGRESSION in case {self.case!r}: {self.status}"]
        if self.note:
            lines[0] += f" - {self.note}"
        points = [f for f in self.regressions if f.step is not None]
        area = [f for f in self.regressions if f.step is None]
        shown = points[:max_points] + area
        lines += ["  " + f.describe(self.test_confidence, self.tolerance) for f in shown]
        if len(points) > max_points:
            rest = ", ".join(f"{f.step:,}" for f in points[max_points:])
            lines.append(f"  also significantly below at steps {rest}")
        if png is not None:
            lines.append(f"  plot: {png}")
        return "\n".join(lines)


def compare(case: RegressionCase, new: CurveSet, baseline: CurveSet | None) -> Comparison:
    """The verdict on ``new`` curves against the stored ``baseline`` of ``case``."""
    tests = len(case.eval_steps) + 1  # every point and the area
    test_confidence = 1.0 - (1.0 - case.confidence) / tests
    base = {
        "case": case.name,
        "tolerance": case.tolerance,
        "confidence": case.confidence,
        "test_confidence": test_confidence,
        "eval_steps": case.eval_steps,
    }
    if baseline is None:
        return Comparison(
            status="no baseline",
            note=f"bless one with `palaestra regress bless {case.name}`",
            **base,
        )
    changed = _definition_changes(baseline.definition, new.definition)
    if changed:
        return Comparison(
            status="stale",
            note=f"the case changed since its baseline was blessed ({', '.join(changed)}); "
            f"re-bless with `palaestra regress bless {case.name}`",
            **base,
        )
    rng = np.random.default_rng(stable_seed(case.name))
    interval = {"confidence": test_confidence, "samples": case.bootstrap_samples, "rng": rng}
    points = iqm_difference_interval(new.returns, baseline.returns, **interval)
    auc = iqm_difference_interval(
        normalized_auc(new.returns, new.eval_steps)[:, None],
        normalized_auc(baseline.returns, baseline.eval_steps)[:, None],
        **interval,
    )
    labels = [f"step {s:,}" for s in case.eval_steps] + [AUC]
    steps: list[int | None] = [*case.eval_steps, None]
    columns = {
        name: np.r_[getattr(points, name), getattr(auc, name)]
        for name in ("new", "baseline", "difference", "low", "high")
    }
    findings = [
        Finding(label, step, **{name: float(values[i]) for name, values in columns.items()})
        for i, (label, step) in enumerate(zip(labels, steps, strict=True))
    ]
    regressions = [f for f in findings if f.high < -case.tolerance]
    improvements = [f for f in findings if f.low > case.tolerance]
    if _identical(new, baseline):
        status: Status = "identical"
        note = "bit-identical to the baseline"
    else:
        status = "regressed" if regressions else "improved" if improvements else "pass"
        same_seeds = set(new.seeds) == set(baseline.seeds)
        note = "same seeds, different curves" if same_seeds else "new seeds"
        if status == "improved":
            note += f"; significantly better: `palaestra regress bless {case.name}` raises the bar"
    return Comparison(
        status=status,
        points=points,
        auc=auc,
        regressions=regressions,
        improvements=improvements,
        note=note,
        **base,
    )


def describe_changes(old: CurveSet | None, new: CurveSet) -> list[str]:
    """What blessing ``new`` changes in the baseline ``old``, for a person to review.

    The first line says whether anything changed; then definition and seed changes, the
    IQM at every point that moved, and the IQM of the area under the curve.
    """
    if old is None:
        return [f"new baseline: {len(new.seeds)} seed(s), {len(new.eval_steps)} points"]
    if old.definition == new.definition and _identical(new, old):
        return UNCHANGED
    lines = ["changed:"]
    for key in _definition_changes(old.definition, new.definition):
        lines.append(f"  {key}: {old.definition.get(key)!r} -> {new.definition.get(key)!r}")
    if set(old.seeds) != set(new.seeds):
        lines.append(f"  seeds: {list(old.seeds)} -> {list(new.seeds)}")
    if old.eval_steps == new.eval_steps:
        before, after = iqm(old.returns), iqm(new.returns)
        lines += [
            f"  IQM at step {step:,}: {a:.4g} -> {b:.4g} ({b - a:+.4g})"
            for step, a, b in zip(new.eval_steps, before, after, strict=True)
            if not np.isclose(a, b, rtol=1e-9, atol=1e-12)  # summation order is not a change
        ]
    else:
        lines.append(f"  eval_steps: {list(old.eval_steps)} -> {list(new.eval_steps)}")
    auc_before = float(iqm(normalized_auc(old.returns, old.eval_steps)))
    auc_after = float(iqm(normalized_auc(new.returns, new.eval_steps)))
    lines.append(
        f"  IQM of the area under the curve: {auc_before:.4g} -> {auc_after:.4g} "
        f"({auc_after - auc_before:+.4g})"
    )
    if len(lines) == 2 and auc_before == auc_after:
        lines.insert(1, "  curves differ per seed, but no IQM moved")
    return lines


def _identical(new: CurveSet, baseline: CurveSet) -> bool:
    if set(new.seeds) != set(baseline.seeds) or new.eval_steps != baseline.eval_steps:
        return False
    return all(np.array_equal(new.curve(s), baseline.curve(s)) for s in new.seeds)


def _definition_changes(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]
