"""CellCNN: the agent's and the goal's cells read from pixels, on maps it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from perception_cases import TILE, TRAIN_SEEDS

from agents.models import (
    CellCNN,
    CellCNNConfig,
    CellCNNStats,
    LabelledFrames,
    cell_accuracy,
    enumerate_frames,
    random_map,
)
from envs.gridworld import maps
from envs.gridworld.gridworld import GridWorldEnv

HELD_OUT_SEEDS = range(100, 106)
NAMED_MAPS = ("GRIDWORLD", "FROZEN_LAKE_8X8", "CLIFF", "WINDY", "FOUR_ROOMS", "DOOR_KEY")


def test_scores_every_cell_of_frames_of_any_map_size() -> None:
    model = CellCNN(CellCNNConfig(tile_size=4, channels=8))
    logits = model(torch.zeros(3, 5 * 4, 8 * 4, 3, dtype=torch.uint8))
    assert logits.shape == (3, 2, 5, 8)
    assert model(torch.zeros(1, 13 * 4, 13 * 4, 3)).shape == (1, 2, 13, 13)
    prediction = model.predict(np.zeros((20, 32, 3), dtype=np.uint8))
    assert prediction.agent.shape == prediction.goal.shape == (1, 2)


def test_frames_that_are_not_whole_tiles_are_refused_with_the_tile_size() -> None:
    model = CellCNN(CellCNNConfig(tile_size=4))
    with pytest.raises(ValueError, match="obs_tile_size 4"):
        model.predict(np.zeros((1, 18, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="must be >= 1"):
        CellCNNConfig(tile_size=0)


def test_training_loss_falls_and_fits_the_training_maps(
    trained_cell_cnn: tuple[CellCNN, CellCNNStats],
) -> None:
    _, stats = trained_cell_cnn
    assert len(stats.fit.losses) == 20
    # Two cross-entropies over 81 cells start near 2 ln 81 = 8.8.
    assert stats.fit.initial_loss > 8.0
    assert stats.fit.final_loss < 0.05 * stats.fit.initial_loss
    assert stats.train_accuracy.agent == stats.train_accuracy.goal == 1.0


def held_out_sets() -> dict[str, LabelledFrames]:
    mazes = [GridWorldEnv(maze_size=9, maze_seed=s, obs_tile_size=TILE) for s in HELD_OUT_SEEDS]
    rooms = [GridWorldEnv(random_map(9, 9, s), obs_tile_size=TILE) for s in HELD_OUT_SEEDS]
    sets = {
        "9x9 mazes": enumerate_frames(mazes),
        "9x9 rooms": enumerate_frames(rooms, reachable_only=False),
        "15x15 maze": enumerate_frames(GridWorldEnv(maze_size=15, maze_seed=7, obs_tile_size=TILE)),
    }
    for name in NAMED_MAPS:
        sets[name] = enumerate_frames(GridWorldEnv(getattr(maps, name), obs_tile_size=TILE))
    return sets


def test_at_least_99_percent_cell_accuracy_on_held_out_maps(cell_cnn: CellCNN) -> None:
    assert not set(HELD_OUT_SEEDS) & set(TRAIN_SEEDS)
    results = {name: cell_accuracy(cell_cnn, data) for name, data in held_out_sets().items()}
    frames = sum(r.frames for r in results.values())
    agent = sum(r.agent * r.frames for r in results.values()) / frames
    assert frames > 800
    assert agent >= 0.99, results
    # Per map too, so one large easy set cannot hide a failure on another kind of map.
    assert all(r.agent >= 0.99 and r.goal >= 0.99 for r in results.values()), results


def test_a_loaded_model_predicts_identically(cell_cnn: CellCNN, tmp_path: Path) -> None:
    frames = enumerate_frames(GridWorldEnv(maps.FOUR_ROOMS, obs_tile_size=TILE)).frames
    loaded = CellCNN.load(cell_cnn.save(tmp_path / "cells.pt"))
    assert loaded.config == cell_cnn.config
    with torch.no_grad():
        x = torch.as_tensor(frames)
        torch.testing.assert_close(loaded(x), cell_cnn(x), rtol=0, atol=0)


def test_loading_the_wrong_file_names_the_problem(cell_cnn: CellCNN, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a palaestra perception-model checkpoint"):
        CellCNN.load(garbage)
    from agents.models import AutoencoderConfig, ConvAutoencoder

    other = ConvAutoencoder(AutoencoderConfig((8, 8, 3), channels=(4,))).save(tmp_path / "ae.pt")
    with pytest.raises(ValueError, match="holds a 'conv_autoencoder' model, not a 'cell_cnn'"):
        CellCNN.load(other)
    with pytest.raises(FileNotFoundError, match="no cell_cnn checkpoint"):
        CellCNN.load(tmp_path / "missing.pt")
