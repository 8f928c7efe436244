"""Watching a trained agent: a pygame window and/or a GIF of its greedy episodes.

Frames come from the env's ``rgb_array`` render; for a palaestra gridworld and an agent with
a Q table (``agent.q``) they carry the value heatmap and greedy arrows of
:func:`renders.overlays.tabular_overlay`. pygame is imported only when a window is opened,
so recording a GIF works on any headless machine (and the window itself works under
``SDL_VIDEODRIVER=dummy``). The window shows small frames scaled up (an Atari screen three
times); GIFs keep the env's own frame size. An env that renders only text (``ansi``, such
as the tool-use env) is watched in the terminal instead: each turn is printed as it happens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import Agent
from agents.evaluation import EpisodeResult, run_episode
from training.config import ConfigError
from training.environments import can_render_rgb, render_fps
from training.evaluation import eval_seed
from training.rundir import LoadedRun, load_run

# Copies of an episode's last frame appended to a GIF, as a pause (in seconds) before it loops.
END_PAUSE_S = 0.5
# Smaller frames are shown scaled up in the window (Atari's 210x160 three times).
WINDOW_MIN_SIDE = 400


def is_palaestra_gridworld(env: gym.Env) -> bool:
    """Whether ``env`` is (a wrapper around) a palaestra GridWorldEnv."""
    try:
        from envs.gridworld.gridworld import GridWorldEnv
    except ImportError:
        return False
    return isinstance(env.unwrapped, GridWorldEnv)


def observes_state_index(env: gym.Env) -> bool:
    """Whether ``env`` hands out its gridworld's state index (the rows of a Q table learned
    on it): the env's own observation, or :class:`~agents.models.wrappers.PixelsToIndex`'s
    reading of its pixels; not another observation wrapper's (k-means clusters)."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.ObservationWrapper):
            from agents.models.wrappers import PixelsToIndex  # only runs with wrappers get here

            return isinstance(env, PixelsToIndex)
        env = env.env
    return True


def frame_function(agent: Agent, env: gym.Env) -> Callable[[], np.ndarray]:
    """What to draw for the current state: the overlay when it applies, else ``env.render()``."""
    q = getattr(agent, "q", None)
    if q is None or not is_palaestra_gridworld(env) or not observes_state_index(env):
        return env.render  # type: ignore[return-value]
    from renders.overlays import tabular_overlay

    base = env.unwrapped
    tile = int(getattr(base, "render_tile_size", 32))
    table = np.asarray(q)
    return lambda: tabular_overlay(base, table, flags=int(base.flags), tile_size=tile)


def play_frames(
    agent: Agent,
    env: gym.Env,
    episodes: int,
    seed: int,
    sink: Callable[[np.ndarray], bool],
) -> list[EpisodeResult]:
    """Play greedy episodes on an ``rgb_array`` env, handing every frame to ``sink``.

    Each episode's last frame is repeated for :data:`END_PAUSE_S` so a window holds the
    outcome and a looping GIF pauses on it. ``sink`` returning False (the window was
    closed) stops playing. Returns one result per episode played.
    """
    draw = frame_function(agent, env)
    pause = max(1, round(END_PAUSE_S * render_fps(env)))
    last: np.ndarray | None = None
    stopped = False

    def on_frame() -> bool:
        nonlocal last, stopped
        last = np.asarray(draw())
        stopped = not sink(last)
        return not stopped

    results = []
    for i in range(episodes):
        results.append(run_episode(agent, env, seed=seed + i, on_frame=on_frame))
        for _ in range(pause):
            if stopped:
                return results
            stopped = not sink(last)
    return results


def save_policy_gif(
    agent: Agent, env: gym.Env, path: Path, episodes: int = 1, seed: int = 0
) -> Path:
    """Record greedy episodes of ``agent`` on ``env`` (render_mode ``rgb_array``) to a GIF."""
    frames: list[np.ndarray] = []
    play_frames(agent, env, episodes, seed, lambda frame: frames.append(frame) is None)
    return write_gif(frames, path, env)


def write_gif(frames: list[np.ndarray], path: str | Path, env: gym.Env) -> Path:
    """Write ``frames`` as a GIF playing at the env's ``render_fps``."""
    from renders.export import save_gif

    return Path(save_gif(frames, path, fps=render_fps(env)))


def watch_text(
    run: LoadedRun, episodes: int, record: str | Path | None, echo: Callable[[str], Any] = print
) -> dict[str, Any]:
    """Play ``run``'s greedy episodes on its env made with ``render_mode="ansi"``, handing
    each turn's text (``env.render()`` after the reset and after every step) to ``echo``."""
    if record is not None:
        raise ConfigError(f"env {run.config.env!r} renders text only; it cannot be a GIF")
    env = run.make_env(render_mode="ansi")

    def on_frame() -> bool:
        echo(str(env.render()).rstrip("\n"))
        return True

    seed = eval_seed(run.config)
    try:
        results = [
            run_episode(run.agent, env, seed=seed + i, on_frame=on_frame) for i in range(episodes)
        ]
    finally:
        env.close()
    return _summary(results, None)


def _summary(results: list[EpisodeResult], gif: Path | None) -> dict[str, Any]:
    return {
        "returns": [r.episode_return for r in results],
        "lengths": [r.length for r in results],
        "successes": [r.success for r in results],
        "gif": gif,
    }


def watch(
    run_dir: str | Path,
    episodes: int = 1,
    record: str | Path | None = None,
    window: bool = True,
) -> dict[str, Any]:
    """Play a run's greedy policy in a pygame window and/or record it to ``record`` (a GIF).

    Returns the episode returns, lengths, successes and the GIF path (None without
    ``record``). Closing the window stops early.
    """
    if episodes < 1:
        raise ConfigError(f"episodes={episodes}: expected an int >= 1")
    run = load_run(run_dir)
    env = run.make_env()
    renders = can_render_rgb(env)
    text_only = not renders and "ansi" in env.metadata.get("render_modes", [])
    env.close()
    if text_only:
        return watch_text(run, episodes, record)
    if not renders:
        raise ConfigError(f"env {run.config.env!r} cannot render rgb_array frames to watch")
    env = run.make_env(render_mode="rgb_array")
    viewer = None
    if window:
        from renders.viewer import PygameViewer

        viewer = PygameViewer(
            f"palaestra: {run.config.agent} on {run.config.env}",
            render_fps(env),
            min_side=WINDOW_MIN_SIDE,
        )
    frames: list[np.ndarray] = []

    def sink(frame: np.ndarray) -> bool:
        if record is not None:
            frames.append(frame)
        if viewer is None:
            return True
        viewer.show(frame)
        return not viewer.closed

    try:
        results = play_frames(run.agent, env, episodes, eval_seed(run.config), sink)
    finally:
        if viewer is not None:
            viewer.close()
        env.close()
    gif = write_gif(frames, record, env) if record is not None and frames else None
    return _summary(results, gif)
