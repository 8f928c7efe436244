"""Pixel probes shared by the render tests (a plain module: tests import it by name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TILE = 32
INK = (0, 0, 0)  # the default arrow colour


def tile(frame: np.ndarray, row: int, col: int, size: int = TILE) -> np.ndarray:
    """The pixels of cell (row, col)."""
    return frame[row * size : (row + 1) * size, col * size : (col + 1) * size]


def centre(frame: np.ndarray, row: int, col: int, size: int = TILE) -> tuple[int, ...]:
    """The colour at the centre of cell (row, col), as a plain tuple for readable asserts."""
    return tuple(int(v) for v in tile(frame, row, col, size)[size // 2, size // 2])


def ink_halves(block: np.ndarray, ink: tuple[int, int, int] = INK) -> dict[str, int]:
    """How many pixels of colour ``ink`` lie in each half of a tile."""
    inked = (block == ink).all(axis=2)
    half = block.shape[0] // 2
    return {
        "up": int(inked[:half].sum()),
        "down": int(inked[half:].sum()),
        "left": int(inked[:, :half].sum()),
        "right": int(inked[:, half:].sum()),
    }


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter at the repo root and return its stdout.

    A fresh interpreter is the only honest way to check what an import pulls into
    ``sys.modules``: this test process has long since imported pygame.
    """
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
