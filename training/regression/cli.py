"""``palaestra regress``: run the reward-curve regression cases, bless baselines, report.

Exit codes: 0 when every case passed, 1 when one regressed (or has no usable baseline),
2 for a bad command line or case file (one ``error: ...`` line, as every palaestra command).
Heavy imports wait until a command runs, so ``palaestra --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from training.config import ConfigError, parse_assignment
from training.regression import BASELINES_DIR, CASES_DIR, RESULTS_DIR

if TYPE_CHECKING:
    from training.regression.report import CaseOutcome
    from training.regression.suite import Blessing

_TIERS = click.Choice(["fast", "slow", "all"])


def _parse_seeds(text: str | None) -> list[int] | None:
    """``0,1,2`` or ``100-104`` (or a mix) as a list of ints."""
    if text is None:
        return None
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected ints like 0,1,2 or 100-104") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: expected distinct seeds")
    return seeds


def _paths(func: click.decorators.FC) -> click.decorators.FC:
    """The directory options every ``regress`` command shares."""
    options = [
        click.option(
            "--cases",
            "cases_dir",
            default=str(CASES_DIR),
            show_default=True,
            metavar="DIR",
            help="Directory of case files (*.yaml).",
        ),
        click.option(
            "--baselines",
            "baselines_dir",
            default=str(BASELINES_DIR),
            show_default=True,
            metavar="DIR",
            help="Directory of baseline files.",
        ),
        click.option(
            "--out",
            "out_dir",
            default=str(RESULTS_DIR),
            show_default=True,
            metavar="DIR",
            help="Where results, PNGs and report.md go.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _tier(names: tuple[str, ...], tier: str | None) -> str | None:
    """Named cases run whatever their tier unless --tier is given; otherwise fast."""
    if tier is None:
        return "all" if names else "fast"
    return tier


@click.group()
def regress() -> None:
    """Reward-curve regression tests: cases, baselines, statistics, plots."""


@regress.command(name="run")
@click.argument("names", nargs=-1, metavar="[CASE]...")
@click.option("--tier", type=_TIERS, help="Cases of this tier [default: fast, or all named].")
@click.option("--seeds", metavar="LIST", help="Train these seeds instead: 0,1,2 or 100-104.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Train with this override but judge against the baseline (would it regress?).",
)
@_paths
@click.pass_context
def run_command(
    ctx: click.Context,
    names: tuple[str, ...],
    tier: str | None,
    seeds: str | None,
    assignments: tuple[str, ...],
    cases_dir: str,
    baselines_dir: str,
    out_dir: str,
) -> None:
    """Run cases and compare them with their baselines; exit 1 on a regression."""
    from training.regression.suite import check_cases

    def show(outcome: CaseOutcome) -> None:
        seconds = outcome.new.provenance.get("wall_time_s", 0.0)
        click.echo(f"{outcome.comparison.summary()}  [{seconds:.1f} s]")

    outcomes = check_cases(
        names,
        _tier(names, tier),
        _parse_seeds(seeds),
        dict(parse_assignment(a) for a in assignments),
        cases_dir=cases_dir,
        baselines_dir=baselines_dir,
        out_dir=out_dir,
        on_case=show,
    )
    failed = [o for o in outcomes if o.comparison.failed]
    for o in failed:
        click.echo(o.comparison.failure_message(o.png), err=True)
    click.echo(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} case(s) passed; "
        f"report: {Path(out_dir) / 'report.md'}"
    )
    if failed:
        ctx.exit(1)


@regress.command(name="bless")
@click.argument("names", nargs=-1, metavar="[CASE]...")
@click.option("--tier", type=_TIERS, help="Cases of this tier [default: fast, or all named].")
@_paths
def bless_command(
    names: tuple[str, ...], tier: str | None, cases_dir: str, baselines_dir: str, out_dir: str
) -> None:
    """Run cases with their own seeds and store the curves as their new baselines."""
    from training.regression.suite import bless_cases

    def show(blessing: Blessing) -> None:
        click.echo(f"{blessing.case.name}: {blessing.path}")
        for line in blessing.changes:
            click.echo(f"  {line}")

    blessings = bless_cases(
        names, _tier(names, tier), cases_dir=cases_dir, baselines_dir=baselines_dir, on_case=show
    )
    click.echo(
        f"blessed {len(blessings)} case(s); review the diff of {baselines_dir} and commit it"
    )


@regress.command(name="report")
@click.argument("names", nargs=-1, metavar="[CASE]...")
@_paths
def report_command(
    names: tuple[str, ...], cases_dir: str, baselines_dir: str, out_dir: str
) -> None:
    """Markdown table and PNGs from the last `regress run` (trains nothing)."""
    from training.regression.report import REPORT_FILE, markdown_table
    from training.regression.suite import report_cases

    outcomes = report_cases(
        names, cases_dir=cases_dir, baselines_dir=baselines_dir, out_dir=out_dir
    )
    click.echo(markdown_table(outcomes), nl=False)
    click.echo(f"wrote {Path(out_dir) / REPORT_FILE} and {len(outcomes)} PNG(s)")


@regress.command(name="list")
@_paths
def list_command(cases_dir: str, baselines_dir: str, out_dir: str) -> None:
    """List the cases with their tier, budget, seeds and baseline."""
    from training.regression.baseline import curve_path
    from training.regression.case import load_cases

    for case in load_cases(cases_dir).values():
        baseline = curve_path(baselines_dir, case.name)
        status = "baseline" if baseline.is_file() else "NO BASELINE"
        click.echo(
            f"{case.name:<28} {case.tier:<4} {case.agent} on {case.env}, {case.steps:,} steps, "
            f"{len(case.seeds)} seeds, {status}"
        )
