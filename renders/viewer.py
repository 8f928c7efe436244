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


def scale_factor(size: tuple[int, int], min_side: int) -> int:
    """The smallest whole factor that makes the shorter side of ``size`` at least
    ``min_side`` (1 when it already is)."""
    return max(1, -(-min_side // max(1, min(size))))


class PygameViewer:
    """Shows frames in one window, sized to the frame, at most ``fps`` frames a second.

    A frame whose shorter side is below ``min_side`` pixels is shown scaled up by the
    smallest whole factor that reaches it (each pixel a sharp block), so a 210x160 Atari
    screen is not a postage stamp; 0 shows frames at their own size.

    Closing the window (or pressing Escape) sets ``closed``; later ``show`` calls do
    nothing, so a watch loop can check ``viewer.closed`` to stop instead of crashing.
    """

    def __init__(self, title: str = "palaestra", fps: int = 30, min_side: int = 0) -> None:
        if fps < 0:
            raise ValueError(f"fps must be >= 0 (0 means unlimited), got {fps}")
        if min_side < 0:
            raise ValueError(f"min_side must be >= 0 (0 means no scaling), got {min_side}")
        self.title = title
        self.fps = fps
        self.min_side = min_side
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
        scale = scale_factor(frame.shape[:2], self.min_side)
        if scale > 1:
            frame = frame.repeat(scale, axis=0).repeat(scale, axis=1)
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
