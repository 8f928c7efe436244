"""``metrics.csv``: one row per finished training episode, appended as training goes.

The file holds no wall-clock values, so the same seed gives a byte-identical file on CPU.
Update diagnostics (epsilon, loss, ...) become extra columns the first time an agent reports
them; the file is then rewritten atomically with the wider header, which happens once or
twice per run, not per row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from agents.common.io import atomic_write_text

BASE_COLUMNS = ("step", "episode", "return", "length", "success")
METRICS_FILE = "metrics.csv"


def format_value(value: Any) -> str:
    """One CSV cell: bools as 0/1, floats with repr's shortest exact digits."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "item") and callable(value.item):  # numpy or torch scalar
        return format_value(value.item())
    return str(value)


def read_metrics(path: Path) -> list[dict[str, str]]:
    """All rows of a metrics file (empty when it does not exist yet)."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    """One numeric column; blank cells (a metric not reported yet) read as NaN."""
    return [float(r[name]) if r.get(name) not in (None, "") else float("nan") for r in rows]


class MetricsFile:
    """Append-only writer of ``metrics.csv`` that can grow new columns and be cut back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        rows = read_metrics(path)
        self.columns: list[str] = list(BASE_COLUMNS)
        if path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            self.columns += [c for c in header if c not in self.columns]
        self.last_episode = int(rows[-1]["episode"]) if rows else 0
        self._file: TextIO | None = None
        if not path.exists():  # a run with no finished episode still has a (header-only) file
            self._rewrite([])

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step``: episodes a crashed run logged after its last checkpoint."""
        rows = [r for r in read_metrics(self.path) if int(r["step"]) <= step]
        self._rewrite(rows)
        self.last_episode = int(rows[-1]["episode"]) if rows else 0

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one episode row (new keys add columns)."""
        new = [k for k in row if k not in self.columns]
        if new or self._file is None:
            self.close()
            self.columns += new
            if new:
                self._rewrite(read_metrics(self.path))
            self._file = self.path.open("a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file, lineterminator="\n")
        cells = [format_value(row[c]) if c in row else "" for c in self.columns]
        self._writer.writerow(cells)

    def flush(self) -> None:
        """Push appended rows to the file (closing also does)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Close the file handle (appending again reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buffer.getvalue())
