"""The callback that records a run while an agent learns.

One object does the per-step and per-episode bookkeeping of a run: ``metrics.csv`` rows,
TensorBoard scalars, the progress bar (steps/s and recent mean return) and periodic
checkpoints. Agents know nothing of files; they only call the :class:`agents.base.Callback`
hooks.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agents.base import Agent, Callback, EpisodeStats
from training.checkpoints import save_checkpoint
from training.metrics import METRICS_FILE, MetricsFile

# Episodes in the progress bar's "recent mean return".
RECENT_EPISODES = 100

# TensorBoard gets at most this many points per curve: each point is the mean of the
# episodes that ended since the previous one. One event per episode costs more than the
# learning itself for a tabular agent with short episodes (metrics.csv keeps every episode).
TENSORBOARD_POINTS = 500

# Progress-bar updates per run: a tqdm call per step would cost more than a tabular update.
BAR_UPDATES = 1000

# Seconds between flushes of metrics.csv (and at every checkpoint), so the file can be
# watched live without a system call per episode.
FLUSH_INTERVAL_S = 1.0


class RunLogger(Callback):
    """Writes metrics, TensorBoard scalars, progress and checkpoints of one training call."""

    def __init__(
        self,
        run_dir: Path,
        *,
        total_steps: int,
        start_step: int = 0,
        checkpoint_every: int = 0,
        progress: bool = True,
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter  # torch import only when training

        self.run_dir = run_dir
        self.checkpoint_every = checkpoint_every
        self.metrics = MetricsFile(run_dir / METRICS_FILE)
        # On resume, rows a crashed run logged after its last checkpoint are dropped.
        self.metrics.truncate_after(start_step)
        self.episodes = self.metrics.last_episode
        # purge_step hides events a crashed run wrote past the checkpoint we resume from.
        self.writer = SummaryWriter(
            log_dir=str(run_dir), purge_step=start_step or None, max_queue=1000
        )
        self.tensorboard_every = max(1, total_steps // TENSORBOARD_POINTS)
        self.next_tensorboard = start_step + self.tensorboard_every
        self.unlogged: list[dict[str, Any]] = []  # rows not yet summarised in TensorBoard
        self.last_flush = time.monotonic()
        self.recent: deque[float] = deque(maxlen=RECENT_EPISODES)
        self.update_metrics: dict[str, float] = {}
        self.pending: dict[str, Any] | None = None  # an episode row waiting for its diagnostics
        self.ended = False
        self.next_checkpoint = self._after(start_step)
        self.bar_every = max(1, total_steps // BAR_UPDATES)
        self.next_bar = start_step + self.bar_every
        self.next_event = min(self.next_bar, self.next_checkpoint)
        interactive = sys.stderr.isatty()
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            mininterval=0.5 if interactive else 5.0,  # CI logs get a line every 5 s
            disable=not progress,
            file=sys.stderr,
        )

    def _after(self, step: int) -> int:
        if not self.checkpoint_every:
            return sys.maxsize
        return (step // self.checkpoint_every + 1) * self.checkpoint_every

    def on_step(self, agent: Agent, num_steps: int) -> bool:
        """Write the finished episode's row; now and then advance the bar or checkpoint.

        Called once per env step, so the common path is two comparisons.
        """
        if self.pending is not None:
            self._write_row()
        if num_steps >= self.next_event:
            self._periodic(agent, num_steps)
        return True

    def _periodic(self, agent: Agent, num_steps: int) -> None:
        self.bar.update(num_steps - self.bar.n)
        self.next_bar = num_steps + self.bar_every
        if num_steps >= self.next_checkpoint:
            self.metrics.flush()  # the rows up to a checkpoint are on disk with it
            save_checkpoint(agent, self.run_dir)
            self.next_checkpoint = self._after(num_steps)
        self.next_event = min(self.next_bar, self.next_checkpoint)

    def on_episode_end(self, agent: Agent, episode: EpisodeStats) -> None:
        """Start the episode's metrics row; it is written at the end of this env step."""
        if self.pending is not None:  # two episodes ended in one step (vectorised envs)
            self._write_row()
        self.episodes += 1
        self.pending = {
            "step": episode.step,
            "episode": self.episodes,
            "return": float(episode.episode_return),
            "length": episode.length,
            "success": bool(episode.success),
        }
        self.recent.append(self.pending["return"])
        self.bar.set_postfix(
            episodes=self.episodes, mean_return=f"{self.mean_recent_return():.3f}", refresh=False
        )

    def on_update(self, agent: Agent, metrics: dict[str, float]) -> None:
        """Keep the latest diagnostics; they go out with the next episode row."""
        self.update_metrics.update({k: float(v) for k, v in metrics.items()})

    def _write_row(self) -> None:
        """Write the pending episode row with the latest diagnostics, CSV and TensorBoard.

        Rows wait for the end of the env step so that diagnostics an agent reports right
        after an episode ends (the tabular agents' epsilon) land in that episode's row.
        """
        row: dict[str, Any] = {**self.pending, **self.update_metrics}
        self.pending = None
        self.metrics.append(row)
        now = time.monotonic()
        if now - self.last_flush >= FLUSH_INTERVAL_S:
            self.metrics.flush()
            self.last_flush = now
        self.unlogged.append(row)
        if row["step"] >= self.next_tensorboard:
            self._write_tensorboard()

    def _write_tensorboard(self) -> None:
        """One point per curve: means over the unlogged episodes, latest diagnostics."""
        rows, self.unlogged = self.unlogged, []
        if not rows:
            return
        step = rows[-1]["step"]
        self.next_tensorboard = (step // self.tensorboard_every + 1) * self.tensorboard_every
        n = len(rows)
        self.writer.add_scalar("episode/return", sum(r["return"] for r in rows) / n, step)
        self.writer.add_scalar("episode/length", sum(r["length"] for r in rows) / n, step)
        self.writer.add_scalar("episode/success_rate", sum(r["success"] for r in rows) / n, step)
        for name, value in self.update_metrics.items():
            self.writer.add_scalar(f"train/{name}", value, step)

    def mean_recent_return(self) -> float:
        """Mean return of the last :data:`RECENT_EPISODES` episodes (NaN before the first)."""
        return sum(self.recent) / len(self.recent) if self.recent else float("nan")

    def end_training(self, num_steps: int | None = None) -> None:
        """Write any pending row, show ``num_steps`` on the bar and close it and the metrics
        file. TensorBoard stays open for the final evaluation's scalars."""
        if self.ended:
            return
        self.ended = True
        if self.pending is not None:
            self._write_row()
        self._write_tensorboard()
        if num_steps is not None:
            self.bar.update(num_steps - self.bar.n)
        self.bar.close()
        self.metrics.close()

    def log_eval(self, result: dict[str, float], step: int) -> None:
        """The final evaluation as ``eval/*`` TensorBoard scalars."""
        for key in ("mean_return", "success_rate", "mean_length"):
            self.writer.add_scalar(f"eval/{key}", result[key], step)

    def close(self) -> None:
        """End training (if not done yet) and close the TensorBoard writer."""
        self.end_training()
        self.writer.close()
