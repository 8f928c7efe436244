"""Saving episodes as animations (GIF with Pillow; MP4 when an ffmpeg binary is present).

Files are written atomically, so a crashed or interrupted export never leaves a truncated
animation where an earlier good one was.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agents.common.io import atomic_write


def _checked_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames as uint8 arrays of one (H, W, 3) shape; errors name the offending index."""
    if len(frames) == 0:
        raise ValueError("no frames to save")
    arrays = [np.asarray(frame) for frame in frames]
    first = arrays[0].shape
    if len(first) != 3 or first[2] != 3:
        raise ValueError(f"frame 0 must be an (H, W, 3) RGB array, got shape {first}")
    for index, array in enumerate(arrays):
        if array.shape != first:
            raise ValueError(f"frame {index} has shape {array.shape}, frame 0 has {first}")
        if array.dtype != np.uint8:
            raise ValueError(f"frame {index} has dtype {array.dtype}, expected uint8")
    return arrays


def _checked_fps(fps: float) -> float:
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return fps


def save_gif(frames: Sequence[np.ndarray], path: str | Path, fps: int = 10) -> Path:
    """Save RGB frames as a GIF that loops forever; returns the path written.

    GIF stores delays in hundredths of a second, so fps above 50 plays slower than asked.
    Pillow merges identical consecutive frames (adding their delays), so a still stretch
    reads back as fewer frames but plays for the same time.
    """
    from PIL import Image

    arrays = _checked_frames(frames)
    duration_ms = round(1000 / _checked_fps(fps))
    images = [Image.fromarray(array) for array in arrays]
    return atomic_write(
        path,
        lambda f: images[0].save(
            f,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=duration_ms,
            loop=0,
        ),
    )


def save_mp4(frames: Sequence[np.ndarray], path: str | Path, fps: int = 30) -> Path:
    """Save RGB frames as an H.264 MP4 by piping raw pixels to ``ffmpeg``.

    Raw frames go straight to ffmpeg instead of through a matplotlib figure, so pixels are
    not resampled. Odd sizes are padded by one pixel because H.264's yuv420p needs even ones.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(
            "save_mp4 needs the ffmpeg program on PATH; install ffmpeg "
            "(e.g. `apt-get install ffmpeg` or `conda install ffmpeg`) or use save_gif"
        )
    arrays = _checked_frames(frames)
    height, width = arrays[0].shape[:2]
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        encoded = Path(tmp) / "video.mp4"
        command = [
            ffmpeg, "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-r", str(_checked_fps(fps)), "-i", "-",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(encoded),
        ]  # fmt: skip
        result = subprocess.run(
            command, input=b"".join(a.tobytes() for a in arrays), capture_output=True
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"ffmpeg failed ({result.returncode}): {message}")
        return atomic_write(path, lambda f: f.write(encoded.read_bytes()))
