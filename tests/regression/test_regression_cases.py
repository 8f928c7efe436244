"""Every regression case against its committed baseline: the fast tier in CI, the slow tier
with ``-m slow``.

Each case trains its seeds; its curves must be bit-identical to the baseline (on CPU the same
code gives the same curves) or, when a change moved them, not significantly below it.
Curves and plots go to ``$PALAESTRA_REGRESSION_OUT`` when set (CI can keep them as
artifacts), else to pytest's temporary directory; a failure names the PNG.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.regression.case import load_cases
from training.regression.suite import check_case

HERE = Path(__file__).parent
CASES_DIR = HERE / "cases"
BASELINES_DIR = HERE / "baselines"
CASES = load_cases(CASES_DIR)


def params(tier: str) -> list:
    marks = [pytest.mark.slow] if tier == "slow" else []
    return [pytest.param(c, id=c.name, marks=marks) for c in CASES.values() if c.tier == tier]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("PALAESTRA_REGRESSION_OUT")
    return Path(configured) if configured else tmp_path_factory.mktemp("regression")


@pytest.mark.parametrize("case", params("fast") + params("slow"))
def test_case_is_not_below_its_baseline(case, out_dir: Path) -> None:
    outcome = check_case(case, baselines_dir=BASELINES_DIR, out_dir=out_dir)
    # "identical" when the learner did not change since blessing; after a change that moves
    # the floats, "pass" as long as the curves are not significantly worse.
    assert not outcome.comparison.failed, outcome.comparison.failure_message(outcome.png)


# Wrappers of Stable-Baselines3's algorithms: the peers palaestra's own learners are measured
# against (benchmarks/), not palaestra learning code this suite guards.
PEER_WRAPPERS = ("sb3_",)


def test_every_registered_learner_has_a_fast_case() -> None:
    from agents.registry import agent_names

    covered = {c.agent for c in CASES.values() if c.tier == "fast"}
    ours = [name for name in agent_names() if not name.startswith(PEER_WRAPPERS)]
    missing = [name for name in ours if name not in covered]
    assert not missing, f"learners without a fast regression case: {missing}"


def test_every_case_has_a_baseline_and_every_baseline_a_case() -> None:
    baselines = {p.stem for p in BASELINES_DIR.glob("*.json")}
    assert baselines == set(CASES), (sorted(set(CASES) - baselines), sorted(baselines - set(CASES)))
