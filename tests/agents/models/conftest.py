"""Models trained once per test session on tiny data, shared by the perception tests."""

from __future__ import annotations

import numpy as np
import pytest
from perception_cases import AE_SEEN_MAZES, TILE, maze_play, training_envs

from agents.models import (
    AutoencoderConfig,
    AutoencoderStats,
    CellCNN,
    CellCNNConfig,
    CellCNNStats,
    ConvAutoencoder,
    FitConfig,
    LabelledFrames,
    enumerate_frames,
    train_autoencoder,
    train_cell_cnn,
)


@pytest.fixture(scope="session")
def cell_training_data() -> LabelledFrames:
    return enumerate_frames(training_envs(), reachable_only=False)


@pytest.fixture(scope="session")
def trained_cell_cnn(cell_training_data: LabelledFrames) -> tuple[CellCNN, CellCNNStats]:
    fit = FitConfig(epochs=20, learning_rate=1e-2, device="cpu")
    return train_cell_cnn(cell_training_data, CellCNNConfig(tile_size=TILE, channels=16), fit)


@pytest.fixture(scope="session")
def cell_cnn(trained_cell_cnn: tuple[CellCNN, CellCNNStats]) -> CellCNN:
    return trained_cell_cnn[0]


@pytest.fixture(scope="session")
def autoencoder_frames() -> np.ndarray:
    return maze_play(AE_SEEN_MAZES, 48, play_seed=0)


@pytest.fixture(scope="session")
def trained_autoencoder(
    autoencoder_frames: np.ndarray,
) -> tuple[ConvAutoencoder, AutoencoderStats]:
    config = AutoencoderConfig(frame_shape=autoencoder_frames.shape[1:], channels=(8, 16))
    fit = FitConfig(epochs=25, learning_rate=1e-2, device="cpu")
    return train_autoencoder(autoencoder_frames, config, fit)
