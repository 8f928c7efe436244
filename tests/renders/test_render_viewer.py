"""The pygame viewer under the dummy video driver, and lazy pygame loading."""

from __future__ import annotations

import numpy as np
import pytest
from render_pixels import run_python

from renders.viewer import PygameViewer


def test_import_renders_does_not_import_pygame() -> None:
    code = (
        "import sys, renders, renders.gridworld, renders.overlays, renders.viewer\n"
        "renders.draw_grid, renders.PygameViewer, renders.save_gif\n"
        "print(sorted(m for m in ('pygame', 'matplotlib') if m in sys.modules))"
    )
    assert run_python(code) == "[]"


def test_lazy_exports_resolve_to_the_module_objects() -> None:
    import renders
    from renders import export, graph, gridworld, overlays, viewer

    modules = {m.__name__.split(".")[-1]: m for m in (export, graph, gridworld, overlays, viewer)}
    for name in renders.__all__:
        assert getattr(renders, name) is getattr(modules[renders._EXPORTS[name]], name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = renders.nope


def test_viewer_shows_a_frame_and_closes() -> None:
    import pygame

    frame = np.zeros((30, 50, 3), dtype=np.uint8)
    frame[5, 40] = (255, 0, 0)
    viewer = PygameViewer(title="test", fps=0)
    viewer.show(frame)
    surface = pygame.display.get_surface()
    assert surface.get_size() == (50, 30)  # (width, height): transposed correctly
    assert tuple(surface.get_at((40, 5)))[:3] == (255, 0, 0)
    assert pygame.display.get_caption()[0] == "test"
    viewer.close()
    assert viewer.closed
    assert not pygame.display.get_init()
    viewer.close()  # closing twice is harmless


def test_closing_the_window_stops_further_shows() -> None:
    import pygame

    viewer = PygameViewer(fps=0)
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    viewer.show(frame)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    viewer.show(frame)
    assert viewer.closed
    assert not pygame.display.get_init()
    viewer.show(frame)  # a no-op: does not reopen the window
    assert not pygame.display.get_init()


def test_viewer_resizes_to_a_new_frame_size() -> None:
    import pygame

    with PygameViewer(fps=0) as viewer:
        viewer.show(np.zeros((8, 8, 3), dtype=np.uint8))
        viewer.show(np.zeros((16, 24, 3), dtype=np.uint8))
        assert pygame.display.get_surface().get_size() == (24, 16)
    assert viewer.closed


def test_viewer_rejects_non_rgb_frames() -> None:
    viewer = PygameViewer()
    with pytest.raises(ValueError, match="uint8"):
        viewer.show(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        viewer.show(np.zeros((8, 8, 3), dtype=np.float32))
    viewer.close()


def test_min_side_scales_small_frames_up_by_a_whole_factor() -> None:
    import pygame

    frame = np.zeros((210, 160, 3), dtype=np.uint8)  # an Atari screen
    frame[10, 20] = (0, 255, 0)
    viewer = PygameViewer(fps=0, min_side=400)
    viewer.show(frame)
    surface = pygame.display.get_surface()
    assert surface.get_size() == (480, 630)  # 3x: the smallest factor reaching 400
    assert tuple(surface.get_at((3 * 20 + 2, 3 * 10 + 2)))[:3] == (0, 255, 0)  # a 3x3 block
    viewer.close()
    with pytest.raises(ValueError, match="min_side must be >= 0"):
        PygameViewer(min_side=-1)


def test_scale_factor_leaves_large_frames_alone() -> None:
    from renders.viewer import scale_factor

    assert scale_factor((210, 160), 400) == 3
    assert scale_factor((600, 800), 400) == 1
    assert scale_factor((96, 96), 0) == 1
