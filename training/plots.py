"""``reward_curve.png``: episode returns and their rolling mean against training steps.

Drawn with matplotlib's Agg canvas directly (no pyplot), so it never opens a window, never
touches a global backend and works on headless machines.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agents.common.io import atomic_write
from training.metrics import column, read_metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (shorter at the start, never empty)."""
    sums = np.cumsum(np.insert(values.astype(np.float64), 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def new_figure(figsize: tuple[float, float] = (7, 4)) -> Figure:
    """A figure on its own Agg canvas: no pyplot, no global backend, no window."""
    # Imported here: matplotlib costs a quarter second that eval/watch/list never need.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, png: Path) -> Path:
    """Lay out ``fig`` and write it to ``png`` atomically (readers never see half a PNG)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write(png, lambda f: f.write(buffer.getvalue()))


def plot_reward_curve(metrics_csv: Path, png: Path, title: str = "") -> Path:
    """Plot the returns of ``metrics_csv`` into ``png`` (written atomically)."""
    rows = read_metrics(metrics_csv)
    steps = np.asarray(column(rows, "step"))
    returns = np.asarray(column(rows, "return"))
    window = max(1, min(100, len(returns) // 10))
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(steps, returns, ".", ms=2, alpha=0.35, color="tab:blue", label="episode return")
    if len(returns):
        ax.plot(
            steps,
            rolling_mean(returns, window),
            color="tab:orange",
            lw=2,
            label=f"rolling mean ({window} episodes)",
        )
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, png)
