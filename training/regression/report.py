"""What a regression run shows a person: one PNG per case and a markdown table of verdicts.

The PNG puts the baseline as a band (the bootstrap interval of its IQM, and the range of its
seeds) behind the new curves, one thin line per seed and a thick IQM, with the points that
failed marked; a glance says whether a drop is one bad seed or all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.plots import new_figure, save_figure
from training.regression.baseline import CurveSet
from training.regression.case import RegressionCase
from training.regression.statistics import iqm, iqm_interval, stable_seed
from training.regression.verdict import Comparison

REPORT_FILE = "report.md"


@dataclass(frozen=True)
class CaseOutcome:
    """One case's results, verdict and picture, as the report lists them."""

    case: RegressionCase
    comparison: Comparison
    new: CurveSet | None  # None when the case has not been run into this output directory
    baseline: CurveSet | None
    png: Path | None


def png_path(out_dir: str | Path, case: str) -> Path:
    """Where the plot of ``case`` goes."""
    return Path(out_dir) / f"{case}.png"


def plot_case(
    case: RegressionCase,
    new: CurveSet | None,
    baseline: CurveSet | None,
    comparison: Comparison,
    png: Path,
) -> Path:
    """Draw the baseline band and the new curves of ``case`` into ``png``."""
    fig = new_figure((8, 4.5))
    ax = fig.add_subplot()
    if baseline is not None and baseline.eval_steps:
        x = np.asarray(baseline.eval_steps)
        rng = np.random.default_rng(stable_seed(case.name))
        center, low, high = iqm_interval(
            baseline.returns, confidence=case.confidence, samples=case.bootstrap_samples, rng=rng
        )
        runs = baseline.returns
        ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color="0.85", label="baseline seeds")
        ax.fill_between(
            x,
            low,
            high,
            color="tab:blue",
            alpha=0.3,
            label=f"baseline IQM {case.confidence:.0%} CI",
        )
        ax.plot(x, center, "--", color="tab:blue", lw=1.5, label="baseline IQM")
        # The tolerance line is what the new curve must stay above (unless noise explains it).
        ax.plot(x, center - case.tolerance, ":", color="tab:blue", lw=1, label="IQM - tolerance")
    if new is not None:
        x = np.asarray(new.eval_steps)
        for i, returns in enumerate(new.returns):
            ax.plot(
                x,
                returns,
                color="tab:orange",
                lw=0.8,
                alpha=0.6,
                label="new seeds" if i == 0 else None,
            )
        ax.plot(x, iqm(new.returns), color="tab:orange", lw=2.5, label="new IQM")
        failed = [f for f in comparison.regressions if f.step is not None]
        if failed:
            ax.plot(
                [f.step for f in failed],
                [f.new for f in failed],
                "x",
                color="red",
                ms=10,
                mew=2.5,
                label="significantly below",
                zorder=5,
            )
    ax.set_xlabel("environment steps")
    episodes = "1 episode" if case.eval_episodes == 1 else f"mean of {case.eval_episodes} episodes"
    ax.set_ylabel(f"greedy return ({episodes})")
    ax.set_title(f"{case.name}: {case.agent} on {case.env} - {comparison.status}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, png)


def markdown_table(outcomes: list[CaseOutcome]) -> str:
    """One row per case: verdict, seeds, final IQM against the baseline's, AUC difference
    with its interval, the worst point and the plot."""
    lines = [
        "| case | agent | env | tier | status | seeds | final IQM (baseline) "
        "| AUC diff [interval] | worst point diff | plot |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        c, cmp = o.case, o.comparison
        seeds = "-" if o.new is None else str(len(o.new.seeds))
        final = auc = worst = "-"
        if cmp.points is not None and cmp.auc is not None:
            final = f"{cmp.points.new[-1]:.3f} ({cmp.points.baseline[-1]:.3f})"
            auc = f"{cmp.auc.difference[0]:+.3f} [{cmp.auc.low[0]:+.3f}, {cmp.auc.high[0]:+.3f}]"
            j = int(np.argmin(cmp.points.difference))
            worst = f"{cmp.points.difference[j]:+.3f} at {cmp.eval_steps[j]:,}"
        status = f"**{cmp.status}**" if cmp.failed else cmp.status
        plot = f"[png]({o.png.name})" if o.png is not None else "-"
        lines.append(
            f"| {c.name} | {c.agent} | {c.env} | {c.tier} | {status} | {seeds} | {final} "
            f"| {auc} | {worst} | {plot} |"
        )
    return "\n".join(lines) + "\n"


def markdown_report(outcomes: list[CaseOutcome]) -> str:
    """The whole ``report.md``: the table, then every failure's message."""
    failed = [o for o in outcomes if o.comparison.failed]
    text = "# palaestra reward-curve regression report\n\n" + markdown_table(outcomes)
    text += f"\n{len(outcomes) - len(failed)} of {len(outcomes)} case(s) passed.\n"
    for o in failed:
        text += f"\n```\n{o.comparison.failure_message(o.png)}\n```\n"
    return text
