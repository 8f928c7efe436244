"""Maps, sizes and seeds the perception tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import numpy as np

from agents.models import random_map, random_play_frames
from envs.gridworld.gridworld import GridWorldEnv

TILE = 4
"""Pixels per cell in every test frame: small frames keep training to a second or two."""
TRAIN_SEEDS = range(5)
"""Maze and random-map seeds the perception models train on; other seeds are held out."""
AE_SEEN_MAZES = (0, 1, 2)
"""9x9 maze seeds the autoencoder trains on."""
AE_UNSEEN_MAZES = (100, 101, 102)
"""9x9 maze seeds it never sees (different layouts: checked in the test)."""


def training_envs() -> list[GridWorldEnv]:
    """9x9 mazes and 9x9 rooms scattered with every hazard tile, seeds ``TRAIN_SEEDS``."""
    mazes = [GridWorldEnv(maze_size=9, maze_seed=s, obs_tile_size=TILE) for s in TRAIN_SEEDS]
    rooms = [GridWorldEnv(random_map(9, 9, s), obs_tile_size=TILE) for s in TRAIN_SEEDS]
    return mazes + rooms


def maze_play(seeds: tuple[int, ...], steps: int, play_seed: int) -> np.ndarray:
    """Random-play frames from the 9x9 mazes of ``seeds``, ``steps`` from each."""
    envs = [GridWorldEnv(maze_size=9, maze_seed=s, obs_tile_size=TILE) for s in seeds]
    return np.concatenate(
        [random_play_frames(env, steps, seed=play_seed + i).frames for i, env in enumerate(envs)]
    )
