"""Curve files: exact round trips, readable diffs, atomic writes, clear errors."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from training.config import ConfigError
from training.regression.baseline import (
    CurveSet,
    curve_path,
    provenance,
    read_curves,
    write_curves,
)


def curves(returns: list[list[float]], seeds: tuple[int, ...] = (0, 1)) -> CurveSet:
    return CurveSet(
        case="c",
        definition={"env": "E", "set": {"agent.alpha": 0.5}},
        eval_steps=(10, 20, 30),
        seeds=seeds,
        returns=np.array(returns),
        provenance=provenance(),
    )


def test_a_curve_file_reads_back_bit_identical(tmp_path) -> None:
    awkward = [[0.1 + 0.2, -1 / 3, 1e-300], [2.0000000000000013, -0.0, 123456.789]]
    written = curves(awkward)
    path = write_curves(tmp_path, written)
    assert path == curve_path(tmp_path, "c") == tmp_path / "c.json"
    read = read_curves(tmp_path, "c")
    assert read is not None
    assert read.returns.tobytes() == written.returns.tobytes()
    assert (read.seeds, read.eval_steps, read.definition) == (
        (0, 1),
        (10, 20, 30),
        written.definition,
    )


def test_each_seed_is_one_line_so_a_rebless_diff_reads_per_seed(tmp_path) -> None:
    text = write_curves(tmp_path, curves([[1, 2, 3], [4, 5, 6]])).read_text()
    assert '"0": [1.0, 2.0, 3.0]' in text
    assert '"eval_steps": [10, 20, 30]' in text
    assert json.loads(text)["curves"]["1"] == [4.0, 5.0, 6.0]


def test_provenance_names_commit_date_and_versions() -> None:
    info = provenance({"extra": 1})
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert info["git_commit"] == head.stdout.strip()
        assert isinstance(info["git_dirty"], bool)
    assert info["date"].endswith("+00:00")
    assert {"python", "numpy", "torch", "gymnasium"} <= set(info["versions"])
    assert info["extra"] == 1


def test_a_missing_file_is_none_and_a_damaged_one_names_itself(tmp_path) -> None:
    assert read_curves(tmp_path, "absent") is None
    (tmp_path / "broken.json").write_text('{"format_version": 1, "case": "broken"}')
    with pytest.raises(ConfigError, match=r"broken\.json is not a palaestra curve file"):
        read_curves(tmp_path, "broken")


def test_returns_must_match_seeds_and_steps() -> None:
    with pytest.raises(ValueError, match="expected \\(2 seeds, 3 evaluation steps\\)"):
        curves([[1.0, 2.0]])


def test_a_failed_write_leaves_the_old_baseline(tmp_path, monkeypatch) -> None:
    write_curves(tmp_path, curves([[1, 2, 3], [4, 5, 6]]))
    before = curve_path(tmp_path, "c").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("agents.common.io.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_curves(tmp_path, curves([[0, 0, 0], [0, 0, 0]]))
    assert curve_path(tmp_path, "c").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary file left
