"""`palaestra regress run/bless/report/list` end to end on a tiny case in a temporary tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agents.tabular import QLearning
from training.cli import cli

TINY_CASE = """\
description: Q-learning on the 3x3 grid, tiny enough for command-line tests
agent: q_learning
env: palaestra/TinyGrid-v0
steps: 1500
eval_every: 500
eval_episodes: 2
seeds: [0, 1, 2]
tolerance: 0.1
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "tiny.yaml").write_text(TINY_CASE)
    return tmp_path


def regress(tree: Path, *args: str) -> Result:
    dirs = ["--cases", str(tree / "cases"), "--baselines", str(tree / "baselines")]
    dirs += ["--out", str(tree / "out")]
    return CliRunner().invoke(cli, ["regress", *args, *dirs], catch_exceptions=False)


def test_bless_then_run_is_identical_and_exits_0(tree: Path) -> None:
    blessed = regress(tree, "bless", "tiny")
    assert blessed.exit_code == 0, blessed.output
    assert "new baseline: 3 seed(s), 3 points" in blessed.output
    baseline = tree / "baselines" / "tiny.json"
    stored = json.loads(baseline.read_text())
    assert list(stored["curves"]) == ["0", "1", "2"]
    assert stored["provenance"]["versions"]["gymnasium"]

    result = regress(tree, "run", "tiny")
    assert result.exit_code == 0, result.output
    assert "tiny: identical (bit-identical to the baseline)" in result.stdout
    assert "1 of 1 case(s) passed" in result.stdout
    assert (tree / "out" / "tiny.json").is_file()
    assert (tree / "out" / "tiny.png").read_bytes().startswith(b"\x89PNG")

    again = regress(tree, "bless", "tiny")
    assert "unchanged: bit-identical to the previous baseline, file kept" in again.output
    assert json.loads(baseline.read_text()) == stored  # same date and commit: not rewritten


def test_fresh_seeds_pass_the_statistical_test(tree: Path) -> None:
    regress(tree, "bless")
    result = regress(tree, "run", "--seeds", "10-12")
    assert result.exit_code == 0, result.output
    assert "tiny: pass (new seeds)" in result.stdout


def test_a_regression_exits_1_naming_case_step_amount_and_png(tree: Path, monkeypatch) -> None:
    regress(tree, "bless")

    def no_bootstrap(self: QLearning, r: float, s2: int, a2: int | None, terminated: bool) -> float:
        return r  # the bug: the discount of the next state's value is lost (gamma = 0)

    monkeypatch.setattr(QLearning, "td_target", no_bootstrap)
    result = regress(tree, "run")
    assert result.exit_code == 1
    assert "tiny: regressed" in result.stdout
    assert "REGRESSION in case 'tiny': regressed" in result.stderr
    assert "at step 1,500: IQM return -0.500 vs baseline 0.970 (-1.470;" in result.stderr
    png = tree / "out" / "tiny.png"
    assert f"plot: {png}" in result.stderr
    assert png.is_file()
    assert "0 of 1 case(s) passed" in result.stdout

    report = regress(tree, "report")
    assert report.exit_code == 0, report.output
    assert (
        "| tiny | q_learning | palaestra/TinyGrid-v0 | fast | **regressed** | 3 |" in report.stdout
    )
    text = (tree / "out" / "report.md").read_text()
    assert "[png](tiny.png)" in text and "REGRESSION in case 'tiny'" in text


def test_run_without_a_baseline_fails_and_says_how_to_bless(tree: Path) -> None:
    result = regress(tree, "run")
    assert result.exit_code == 1
    assert "no baseline" in result.stderr and "palaestra regress bless tiny" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "tiyn"], "error: unknown regression case 'tiyn' (did you mean 'tiny'?)"),
        (["run", "--seeds", "1,x"], "error: --seeds '1,x': expected ints"),
        (["report"], "error: no results in"),
        (["report", "tiny"], "error: no results for case 'tiny'"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(tree: Path, args, message) -> None:
    result = regress(tree, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1


def test_list_shows_cases_and_their_baseline_state(tree: Path) -> None:
    assert "NO BASELINE" in regress(tree, "list").stdout
    regress(tree, "bless")
    listed = regress(tree, "list").stdout
    assert listed.startswith("tiny")
    assert "q_learning on palaestra/TinyGrid-v0, 1,500 steps, 3 seeds, baseline" in listed


def test_set_trains_a_variant_judged_against_the_unchanged_baseline(tree: Path) -> None:
    regress(tree, "bless")
    result = regress(tree, "run", "--set", "agent.alpha=0.001")  # a step size 100x too small
    assert result.exit_code == 1
    assert "tiny: regressed" in result.stdout  # judged, not "stale": the case file is unchanged
    stored = json.loads((tree / "out" / "tiny.json").read_text())
    assert stored["provenance"]["set"] == {"agent.alpha": "0.001"}
