"""Render-mode plumbing shared by palaestra envs.

An env draws its frames with numpy; :class:`FrameRenderer` checks the render mode once,
returns frames in ``rgb_array`` mode and, in ``human`` mode, shows them in a
:class:`renders.viewer.PygameViewer` created on the first frame (so with
``render_mode=None`` nothing of pygame is imported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np


class FrameRenderer:
    """Turns an env's ``frame()`` into what ``render()`` must do for its render mode."""

    def __init__(self, render_mode: str | None, metadata: Mapping[str, Any], title: str) -> None:
        modes = metadata["render_modes"]
        if render_mode is not None and render_mode not in modes:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid modes: None, " + ", ".join(modes)
            )
        self.render_mode = render_mode
        self.title = title
        self.fps = int(metadata["render_fps"])
        self._viewer: Any = None

    def render(self, frame: Callable[[], np.ndarray]) -> np.ndarray | None:
        """The frame in ``rgb_array`` mode; shown in a window (returning None) in ``human``."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' or "
                "'human' to gymnasium.make"
            )
            return None
        if self.render_mode == "rgb_array":
            return frame()
        if self._viewer is None:
            from renders.viewer import PygameViewer  # lazily: pygame only for human mode

            self._viewer = PygameViewer(title=self.title, fps=self.fps)
        self._viewer.show(frame())
        return None

    def close(self) -> None:
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
