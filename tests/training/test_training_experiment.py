"""``palaestra experiment``: algorithms x envs x seeds, one results table, curves per env."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from training.cli import cli
from training.config import ConfigError
from training.experiment import (
    EXPERIMENTS_DIR,
    RESULTS_JSON,
    RESULTS_MD,
    load_experiment,
    parse_experiment,
    run_experiment,
    validate_runs,
)
from training.regression.statistics import iqm

TINY = {
    "name": "tiny",
    "steps": 600,
    "eval_episodes": 2,
    "seeds": [0, 1, 2],
    "workers": 2,
    "envs": ["palaestra/TinyGrid-v0", {"id": "palaestra/CliffWalking-v0", "steps": 800}],
    "algorithms": [
        "q_learning",
        {"agent": "sarsa", "label": "sarsa-fast", "set": {"agent.alpha": 0.5}},
        {"agent": "expected_sarsa", "envs": ["palaestra/TinyGrid-v0"]},
    ],
}


def test_runs_every_combination_and_summarises_each_pair(tmp_path: Path) -> None:
    experiment = parse_experiment(TINY, out=tmp_path / "exp")
    # 2 envs x 2 algorithms + expected_sarsa on TinyGrid only, 3 seeds each.
    assert len(experiment.runs) == (2 * 2 + 1) * 3
    cliff = [r for r in experiment.runs if r.env_id == "palaestra/CliffWalking-v0"]
    assert {r.config.steps for r in cliff} == {800}
    assert {
        r.config.agent_config.get("alpha") for r in experiment.runs if r.label == "sarsa-fast"
    } == {0.5}

    results = run_experiment(experiment, report=lambda line: None)
    rows = {(r["env"], r["algorithm"]): r for r in results["rows"]}
    assert len(rows) == 5
    for (env_id, label), row in rows.items():
        evals = [
            json.loads(
                (
                    tmp_path / "exp" / env_id.split("/")[1] / label / f"s{s}" / "eval.json"
                ).read_text()
            )
            for s in (0, 1, 2)
        ]
        returns = np.array([e["mean_return"] for e in evals])
        assert row["returns"] == pytest.approx(list(returns))
        assert row["mean"] == pytest.approx(returns.mean())
        assert row["iqm"] == pytest.approx(float(iqm(returns)))
        assert row["mean_ci"][0] <= row["mean"] <= row["mean_ci"][1]
        assert row["iqm_ci"][0] <= row["iqm"] <= row["iqm_ci"][1]
    assert json.loads((tmp_path / "exp" / RESULTS_JSON).read_text())["rows"] == json.loads(
        json.dumps(results["rows"])
    )
    assert (
        "| palaestra/TinyGrid-v0 | sarsa-fast | 3 |" in (tmp_path / "exp" / RESULTS_MD).read_text()
    )
    for png in ("TinyGrid-v0_curves.png", "CliffWalking-v0_curves.png"):
        assert (tmp_path / "exp" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"algorithms": ["q_learnin"]}, "unknown agent 'q_learnin'"),
        (
            {"envs": ["palaestra/TinyGrid-v0", "palaestra/NoSuch-v0"]},
            "unknown env 'palaestra/NoSuch-v0'",
        ),
        ({"seeds": [0, 0]}, "distinct"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"algorithms": [{"agent": "sarsa", "envs": ["FrozenLake-v1"]}]}, "not in the experiment"),
        ({"algorithms": [{"agent": "sarsa", "set": {"agent.alpah": 1}}]}, "alpah"),
    ],
)
def test_bad_files_fail_before_anything_is_written(
    tmp_path: Path, change: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run_experiment(parse_experiment({**TINY, **change}, out=tmp_path / "exp"))
    assert not (tmp_path / "exp").exists()


def test_shipped_examples_parse_and_validate() -> None:
    examples = sorted(EXPERIMENTS_DIR.glob("*.yaml"))
    assert examples
    for path in examples:
        experiment = load_experiment(path.stem, out="/nonexistent/never-written")
        assert experiment.runs
        validate_runs(experiment)  # every env x algorithm pair builds


def test_command_line_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("envs: [palaestra/TinyGrid-v0]\nalgorithms: [nope]\n")
    result = CliRunner().invoke(cli, ["experiment", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "unknown agent 'nope'" in result.output
