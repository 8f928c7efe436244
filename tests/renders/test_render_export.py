"""GIF (and, where ffmpeg exists, MP4) export of frame sequences."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renders import export
from renders.export import save_gif, save_mp4


def solid_frames(n: int, height: int = 12, width: int = 20) -> list[np.ndarray]:
    """Distinct frames (Pillow merges identical neighbours), each one flat colour."""
    return [np.full((height, width, 3), (20 * i, 255 - 20 * i, 100), np.uint8) for i in range(n)]


def test_gif_round_trip(tmp_path: Path) -> None:
    frames = solid_frames(5)
    path = save_gif(frames, tmp_path / "sub" / "episode.gif", fps=20)
    assert path == tmp_path / "sub" / "episode.gif"
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.size == (20, 12)
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 50
        for index, frame in enumerate(frames):
            gif.seek(index)
            assert np.array_equal(np.asarray(gif.convert("RGB")), frame)
    assert [p.name for p in path.parent.iterdir()] == ["episode.gif"]  # no temp file left


def test_gif_rejects_empty_and_mismatched_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        save_gif([], tmp_path / "empty.gif")
    frames = solid_frames(3)
    frames[2] = frames[2][:10]
    with pytest.raises(ValueError, match=r"frame 2 has shape \(10, 20, 3\)"):
        save_gif(frames, tmp_path / "bad.gif")
    with pytest.raises(ValueError, match="fps must be positive"):
        save_gif(solid_frames(1), tmp_path / "bad.gif", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_mp4_without_ffmpeg_says_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install ffmpeg"):
        save_mp4(solid_frames(2), tmp_path / "episode.mp4")
    assert not (tmp_path / "episode.mp4").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg binary on PATH")
def test_mp4_is_written_with_ffmpeg(tmp_path: Path) -> None:
    path = save_mp4(solid_frames(4, height=11, width=21), tmp_path / "episode.mp4", fps=10)
    data = path.read_bytes()
    assert data[4:8] == b"ftyp"  # an MP4 container
