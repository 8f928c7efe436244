"""make_encoder picks the encoder from the observation space: pixels of any size, one-hot
planes, flat vectors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the ids)
from agents.common.networks import FlattenEncoder, GridCNN, NatureCNN, make_encoder


def pixels(shape: tuple[int, ...]) -> gym.spaces.Box:
    return gym.spaces.Box(0, 255, shape, np.uint8)


@pytest.mark.parametrize("shape", [(40, 40, 3), (4, 84, 84)])
def test_frames_big_enough_get_the_nature_cnn(shape: tuple[int, ...]) -> None:
    encoder = make_encoder(pixels(shape))
    assert isinstance(encoder, NatureCNN)
    assert encoder(torch.zeros(2, *shape, dtype=torch.uint8)).shape == (2, 512)


def test_small_rgb_frames_are_read_channel_last_and_scaled() -> None:
    """A 3x3 map drawn at 8 px a cell is (24, 24, 3): too small for the Nature CNN, and its
    image rows must not be read as channels (the bug this guards against)."""
    space = gym.make("palaestra/TinyGrid-v0", observation_mode="rgb").observation_space
    encoder = make_encoder(space)
    assert isinstance(encoder, GridCNN) and encoder.channels_last
    assert encoder.net[0].in_channels == 3
    assert encoder.out_dim == 32 * 24 * 24
    frame = torch.randint(0, 256, (2, *space.shape), dtype=torch.uint8)
    expected = frame.permute(0, 3, 1, 2).float() / 255.0  # channel first, in [0, 1]
    assert torch.allclose(encoder(frame), encoder.net(expected), atol=1e-5)


def test_small_channel_first_frames_keep_their_layout() -> None:
    encoder = make_encoder(pixels((3, 12, 12)))
    assert isinstance(encoder, GridCNN) and not encoder.channels_last
    assert encoder.net[0].in_channels == 3
    assert encoder(torch.zeros(2, 3, 12, 12, dtype=torch.uint8)).shape == (2, 32 * 12 * 12)


def test_one_hot_planes_get_the_grid_cnn_unscaled_whatever_their_size() -> None:
    """uint8 planes bounded by 1 are not pixels, even where they are 36 or more a side."""
    for shape in [(10, 3, 3), (10, 40, 40)]:
        encoder = make_encoder(gym.spaces.Box(0, 1, shape, np.uint8))
        assert isinstance(encoder, GridCNN) and not encoder.channels_last
        assert encoder.scale == 1.0
        assert encoder.net[0].in_channels == 10


def test_flat_boxes_are_flattened() -> None:
    encoder = make_encoder(gym.spaces.Box(-1.0, 1.0, (4,), np.float32))
    assert isinstance(encoder, FlattenEncoder)
    assert encoder.out_dim == 4
