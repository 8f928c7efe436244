"""The optional dependencies of the Atari family, imported only when an Atari env is made.

``import envs`` must work without them, so nothing here runs at import time; a missing one
raises Gymnasium's ``DependencyNotInstalled`` naming the extra that brings it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gymnasium.error import DependencyNotInstalled

ATARI_EXTRA = 'pip install "palaestra[atari]"'
MIN_ALE_VERSION = (0, 12)


def _import(module: str, distribution: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # the package is there but broken: show the real error
            raise
        raise DependencyNotInstalled(
            f"{distribution} is not installed ({purpose}); install the Atari extra: {ATARI_EXTRA}"
        ) from e


def import_ale() -> ModuleType:
    """``ale_py``, whose import also registers the ALE ids (``ALE/Pong-v5``...) with Gymnasium.

    ale-py older than 0.12 raises too: its ``AtariVectorEnv`` has no working ``SAME_STEP``
    autoreset (0.11.2 crashes) and preprocesses differently from the single-env pipeline.
    """
    ale_py = _import("ale_py", "ale-py", "it runs the Atari games")
    if version_tuple(ale_py.__version__) < MIN_ALE_VERSION:
        wanted = ".".join(map(str, MIN_ALE_VERSION))
        raise DependencyNotInstalled(
            f"Atari environments need ale-py >= {wanted}, found {ale_py.__version__}; "
            f"upgrade with {ATARI_EXTRA.replace('pip install', 'pip install -U')}"
        )
    return ale_py


def import_cv2() -> ModuleType:
    """``cv2``, which Gymnasium's ``AtariPreprocessing`` resizes frames with."""
    return _import("cv2", "opencv-python-headless", "it resizes the Atari frames")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.12.1"`` as ``(0, 12, 1)``; stops at the first part that is not a number."""
    parts = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)
