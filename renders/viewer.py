"""A pygame window that shows RGB frames, for envs' ``human`` render mode.

pygame is imported inside the methods: envs create a viewer only in ``human`` mode, and
with ``render_mode=None`` nothing of pygame may be loaded or initialised.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np


def _pygame() -> ModuleType:
    # pygame prints a banner on import; viewers are used from scripts and tests alike.
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


class PygameViewer:
    """Shows frames in one window, sized to the frame, at most ``fps`` frames a second.

    Closing the window (or pressing Escape) sets ``closed``; later ``show`` calls do
    nothing, so a watch loop can check ``viewer.closed`` to stop instead of crashing.
    """

    def __init__(self, title: str = "palaestra", fps: int = 30) -> None:
        if fps < 0:
            raise ValueError(f"fps must be >= 0 (0 means unlimited), got {fps}")
        self.title = title
        self.fps = fps
        self.closed = False
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: np.ndarray) -> None:
        """Display ``frame`` ((H, W, 3) uint8), then wait out the rest of this frame's time."""
        if self.closed:
            return
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"frame must be an (H, W, 3) uint8 array, got {frame.dtype} {frame.shape}"
            )
        pygame = _pygame()
        self._ensure_window(pygame, width=frame.shape[1], height=frame.shape[0])
        # surfarray indexes pixels as [x, y]; numpy frames are [row, col].
        pygame.surfarray.blit_array(self._screen, frame.swapaxes(0, 1))
        if self._close_requested(pygame):
            self.close()
            return
        pygame.display.flip()
        self._clock.tick(self.fps)

    def _ensure_window(self, pygame: ModuleType, width: int, height: int) -> None:
        """Open the window on the first frame, and resize it if the frame size changes."""
        if self._screen is None:
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._clock = pygame.time.Clock()
        if self._screen is None or self._screen.get_size() != (width, height):
            self._screen = pygame.display.set_mode((width, height))

    @staticmethod
    def _close_requested(pygame: ModuleType) -> bool:
        """Drain the event queue (an unpumped window freezes) and report a close request."""
        requested = False
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE
            ):
                requested = True
        return requested

    def close(self) -> None:
        """Close the window; safe to call more than once, or before any frame was shown."""
        if self._screen is not None:
            _pygame().display.quit()
            self._screen = None
            self._clock = None
        self.closed = True

    def __enter__(self) -> PygameViewer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
