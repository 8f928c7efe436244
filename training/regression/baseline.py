"""Curve files: the baselines kept in the repository and the results of the latest run.

A curve file is small JSON, one per case: the case definition that produced it, the
evaluation steps, one curve per seed (floats written with Python's shortest exact repr, so a
curve read back is bit-identical to the one written), and provenance: git commit, date and
package versions. Baselines live in ``tests/regression/baselines/`` and are reviewed like
code; ``palaestra regress run`` writes the same format to ``runs/regression/``, which is what
``palaestra regress report`` reads.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.io import atomic_write_text
from training.config import ConfigError, one_line
from training.rundir import versions

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CurveSet:
    """Evaluation returns of one case: ``returns[i, j]`` is seed ``seeds[i]`` at
    ``eval_steps[j]``."""

    case: str
    definition: dict[str, Any]
    eval_steps: tuple[int, ...]
    seeds: tuple[int, ...]
    returns: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        returns = np.asarray(self.returns, dtype=np.float64)
        if returns.shape != (len(self.seeds), len(self.eval_steps)):
            raise ValueError(
                f"case {self.case!r}: returns have shape {returns.shape}, expected "
                f"({len(self.seeds)} seeds, {len(self.eval_steps)} evaluation steps)"
            )
        object.__setattr__(self, "returns", returns)

    def curve(self, seed: int) -> np.ndarray:
        """The curve of one seed."""
        return self.returns[self.seeds.index(seed)]

    def to_json(self) -> str:
        """The file text: indented, with each curve on one line so diffs read per seed."""
        data = {
            "format_version": FORMAT_VERSION,
            "case": self.case,
            "definition": self.definition,
            "eval_steps": list(self.eval_steps),
            "curves": {
                str(s): [float(v) for v in row]
                for s, row in zip(self.seeds, self.returns, strict=True)
            },
            "provenance": self.provenance,
        }
        return _collapse_number_lists(json.dumps(data, indent=2)) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> CurveSet:
        """Parse a curve file; ConfigError naming ``source`` when it is damaged."""
        try:
            data = json.loads(text)
            version = data["format_version"]
            if version != FORMAT_VERSION:
                raise ValueError(f"format {version}, this palaestra reads {FORMAT_VERSION}")
            curves = data["curves"]
            return cls(
                case=data["case"],
                definition=data["definition"],
                eval_steps=tuple(int(s) for s in data["eval_steps"]),
                seeds=tuple(int(s) for s in curves),
                returns=np.array(list(curves.values()), dtype=np.float64).reshape(
                    len(curves), len(data["eval_steps"])
                ),
                provenance=data.get("provenance", {}),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{source} is not a palaestra curve file: {one_line(e)}") from None


def curve_path(directory: str | Path, case: str) -> Path:
    """Where the curve file of ``case`` lives in ``directory``."""
    return Path(directory) / f"{case}.json"


def read_curves(directory: str | Path, case: str) -> CurveSet | None:
    """The curve file of ``case`` in ``directory``; None when there is none."""
    path = curve_path(directory, case)
    if not path.is_file():
        return None
    return CurveSet.from_json(path.read_text(encoding="utf-8"), str(path))


def write_curves(directory: str | Path, curves: CurveSet) -> Path:
    """Write (atomically: a reader never sees half a baseline) and return the path."""
    return atomic_write_text(curve_path(directory, curves.case), curves.to_json())


def provenance(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where curves came from: git commit (and whether the tree had local changes), UTC
    date, package versions; enough to tell, months later, what a baseline was blessed on."""
    commit, dirty = _git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "versions": versions(),
        **(extra or {}),
    }


def _git_state() -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None  # not a checkout, or no git: provenance without a commit
    return commit, bool(status.strip())


_NUMBER = r"(?:-?[\d.eE+-]+|NaN|-?Infinity)"
_NUMBER_LIST = re.compile(rf"\[\s*({_NUMBER}(?:,\s*{_NUMBER})*)\s*\]")


def _collapse_number_lists(text: str) -> str:
    """json.dumps(indent=2) puts every number on its own line; put each list on one."""
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text
    )
