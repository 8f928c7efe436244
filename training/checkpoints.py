"""Checkpoints in a run directory: ``checkpoints/<stem><agent.checkpoint_suffix>``.

Agents write their own files atomically (:func:`agents.common.io.atomic_write`), so a crash
in the middle of a save leaves the previous checkpoint untouched.
"""

from __future__ import annotations

from pathlib import Path

from agents.base import Agent
from training.config import ConfigError

CHECKPOINT_DIR = "checkpoints"
LAST = "last"


def save_checkpoint(agent: Agent, run_dir: Path, stem: str = LAST) -> Path:
    """Save ``agent`` as ``run_dir/checkpoints/<stem><agent.checkpoint_suffix>``."""
    return Path(agent.save(run_dir / CHECKPOINT_DIR / f"{stem}{agent.checkpoint_suffix}"))


def find_checkpoint(run_dir: Path, stem: str = LAST) -> Path:
    """The checkpoint ``stem`` of a run (any suffix); ConfigError when there is none."""
    directory = run_dir / CHECKPOINT_DIR
    found = sorted(
        p for p in directory.glob(f"{stem}*") if p.name == stem or p.name.startswith(f"{stem}.")
    )
    if not found:
        raise ConfigError(f"no {stem!r} checkpoint in {str(directory)!r}")
    return found[0]
