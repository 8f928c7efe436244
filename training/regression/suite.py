"""The Python API behind ``palaestra regress``: check cases, bless baselines, write reports.

>>> from training.regression.suite import check_cases
>>> outcomes = check_cases(["q_learning_gridworld"])  # doctest: +SKIP
>>> [o.comparison.status for o in outcomes]  # doctest: +SKIP
['identical']

Paths default to the repository layout (cases and baselines under ``tests/regression/``,
results under ``runs/regression/``), so the functions are called from the repository root
as the command is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.common.io import atomic_write_text
from training.config import ConfigError, plain
from training.regression import BASELINES_DIR, CASES_DIR, RESULTS_DIR
from training.regression.baseline import (
    CurveSet,
    curve_path,
    read_curves,
    write_curves,
)
from training.regression.case import RegressionCase, load_cases, select_cases
from training.regression.report import (
    REPORT_FILE,
    CaseOutcome,
    markdown_report,
    plot_case,
    png_path,
)
from training.regression.runner import run_case
from training.regression.verdict import UNCHANGED, compare, describe_changes


@dataclass(frozen=True)
class Blessing:
    """A baseline just written, and how it differs from the one it replaced."""

    case: RegressionCase
    path: Path
    changes: list[str]  # human-readable lines; the first says whether anything changed


def check_case(
    case: RegressionCase,
    seeds: Sequence[int] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    baselines_dir: str | Path = BASELINES_DIR,
    out_dir: str | Path = RESULTS_DIR,
) -> CaseOutcome:
    """Run ``case`` (its own seeds, or ``seeds``), compare with its baseline, save the curves
    and the PNG in ``out_dir``.

    ``overrides`` (``--set`` keys) train a variant but judge it against the case's baseline,
    as if the code had changed: "would this new default regress?" Tests inject bugs so.
    """
    trained = case.with_changes(overrides=dict(overrides)) if overrides else case
    new = run_case(trained, seeds)
    if overrides:
        new = dataclasses.replace(
            new,
            definition=case.definition(),
            provenance={**new.provenance, "set": plain(dict(overrides))},
        )
    write_curves(out_dir, new)
    return _outcome(case, new, read_curves(baselines_dir, case.name), out_dir)


def check_cases(
    names: Sequence[str] = (),
    tier: str | None = "fast",
    seeds: Sequence[int] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    cases_dir: str | Path = CASES_DIR,
    baselines_dir: str | Path = BASELINES_DIR,
    out_dir: str | Path = RESULTS_DIR,
    on_case: Callable[[CaseOutcome], None] | None = None,
) -> list[CaseOutcome]:
    """``palaestra regress run``: check the named cases (all of ``tier`` when none are named)
    and write ``report.md`` for them. ``on_case`` sees each outcome as it is ready."""
    cases = select_cases(load_cases(cases_dir), names, tier)
    outcomes = []
    for case in cases:
        outcome = check_case(case, seeds, overrides, baselines_dir=baselines_dir, out_dir=out_dir)
        outcomes.append(outcome)
        if on_case is not None:
            on_case(outcome)
    write_report(outcomes, out_dir)
    return outcomes


def bless_cases(
    names: Sequence[str] = (),
    tier: str | None = "fast",
    *,
    cases_dir: str | Path = CASES_DIR,
    baselines_dir: str | Path = BASELINES_DIR,
    on_case: Callable[[Blessing], None] | None = None,
) -> list[Blessing]:
    """``palaestra regress bless``: run the cases with their own seeds and make the curves
    their new baselines (each file written atomically), saying what changed."""
    blessings = []
    for case in select_cases(load_cases(cases_dir), names, tier):
        new = run_case(case)
        old = read_curves(baselines_dir, case.name)
        changes = describe_changes(old, new)
        # An unchanged baseline keeps its file, so re-blessing everything after touching one
        # learner leaves a diff with only that learner's curves in it.
        if changes == UNCHANGED:
            path = curve_path(baselines_dir, case.name)
        else:
            path = write_curves(baselines_dir, new)
        blessing = Blessing(case, path, changes)
        blessings.append(blessing)
        if on_case is not None:
            on_case(blessing)
    return blessings


def report_cases(
    names: Sequence[str] = (),
    *,
    cases_dir: str | Path = CASES_DIR,
    baselines_dir: str | Path = BASELINES_DIR,
    out_dir: str | Path = RESULTS_DIR,
) -> list[CaseOutcome]:
    """``palaestra regress report``: verdicts, PNGs and ``report.md`` from the curves the
    last ``run`` left in ``out_dir``; nothing is trained. Cases never run there are left
    out unless named (a named one without results is an error)."""
    cases = select_cases(load_cases(cases_dir), names, None)
    outcomes = []
    for case in cases:
        new = read_curves(out_dir, case.name)
        if new is None:
            if names:
                raise ConfigError(
                    f"no results for case {case.name!r} in {curve_path(out_dir, case.name)}; "
                    f"run `palaestra regress run {case.name}` first"
                )
            continue
        outcomes.append(_outcome(case, new, read_curves(baselines_dir, case.name), out_dir))
    if not outcomes:
        raise ConfigError(f"no results in {out_dir}; run `palaestra regress run` first")
    write_report(outcomes, out_dir)
    return outcomes


def write_report(outcomes: list[CaseOutcome], out_dir: str | Path) -> Path:
    """Write ``report.md`` (atomically) for ``outcomes`` and return its path."""
    return atomic_write_text(Path(out_dir) / REPORT_FILE, markdown_report(outcomes))


def _outcome(
    case: RegressionCase, new: CurveSet, baseline: CurveSet | None, out_dir: str | Path
) -> CaseOutcome:
    comparison = compare(case, new, baseline)
    png = plot_case(case, new, baseline, comparison, png_path(out_dir, case.name))
    return CaseOutcome(case=case, comparison=comparison, new=new, baseline=baseline, png=png)
