"""ConvAutoencoder: shapes, a falling loss, reconstruction error as an anomaly score,
checkpoints, and its encoder frozen or fine-tuned under an optimizer step."""

from __future__ import annotations

import copy
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from perception_cases import AE_SEEN_MAZES, AE_UNSEEN_MAZES, maze_play

from agents.common.networks import Encoder
from agents.common.torch_utils import FlatParameters, adam
from agents.models import (
    AutoencoderConfig,
    AutoencoderStats,
    ConvAutoencoder,
    EncoderActorCritic,
    roc_auc,
    set_trainable,
)
from envs.gridworld.maze import generate_maze


@pytest.mark.parametrize(
    ("shape", "channels_last"),
    [((36, 36, 3), True), ((20, 32, 3), True), ((27, 45, 3), True), ((4, 84, 84), False)],
)
def test_reconstructions_have_the_frame_s_size_odd_sides_included(
    shape: tuple[int, int, int], channels_last: bool
) -> None:
    space = gym.spaces.Box(0, 255, shape, np.uint8)
    config = AutoencoderConfig.from_space(space, latent_dim=7)
    assert config.channels_last is channels_last
    model = ConvAutoencoder(config)
    frames = np.stack([space.sample() for _ in range(2)])
    codes = model.encode(frames)
    assert codes.shape == (2, 7) and codes.dtype == np.float32
    with torch.no_grad():
        out = model(torch.as_tensor(frames))
    c, h, w = (shape[2], shape[0], shape[1]) if channels_last else shape
    assert out.shape == (2, c, h, w)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    errors = model.reconstruction_error(frames)
    assert errors.shape == (2,) and (errors > 0).all()


def test_wrong_frames_and_sizes_are_refused_with_the_expected_shape() -> None:
    model = ConvAutoencoder(AutoencoderConfig((20, 32, 3)))
    with pytest.raises(ValueError, match=r"frames of shape \(batch, 20, 32, 3\)"):
        model.encode(np.zeros((1, 32, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="too small for 3 halving convolutions"):
        AutoencoderConfig((4, 4, 3), channels=(8, 8, 8))


def test_reconstruction_error_is_the_per_frame_mean_squared_error() -> None:
    model = ConvAutoencoder(AutoencoderConfig((8, 8, 3), channels=(4,)))
    frames = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    with torch.no_grad():
        recon = model(torch.as_tensor(frames)).permute(0, 2, 3, 1).numpy()
    expected = ((recon - frames / 255.0) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(model.reconstruction_error(frames), expected, rtol=1e-5)


def test_training_loss_falls(trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats]) -> None:
    _, stats = trained_autoencoder
    assert len(stats.fit.losses) == 25
    assert stats.fit.final_loss < 0.1 * stats.fit.initial_loss
    assert stats.fit.losses[-1] < stats.fit.losses[0]
    assert float(stats.train_errors.mean()) < 0.1 * stats.fit.initial_loss


def test_frames_of_unseen_mazes_reconstruct_worse_roc_auc_above_0_9(
    trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats],
) -> None:
    # The unseen mazes really are other layouts (small mazes repeat across seeds).
    seen_maps = {tuple(generate_maze(9, 9, s)) for s in AE_SEEN_MAZES}
    assert not seen_maps & {tuple(generate_maze(9, 9, s)) for s in AE_UNSEEN_MAZES}
    model, _ = trained_autoencoder
    # Fresh play on the seen mazes (other episodes than the training frames).
    seen = model.reconstruction_error(maze_play(AE_SEEN_MAZES, 40, play_seed=50))
    unseen = model.reconstruction_error(maze_play(AE_UNSEEN_MAZES, 40, play_seed=50))
    auc = roc_auc(seen, unseen)
    assert auc > 0.9, (auc, seen.mean(), unseen.mean())


def test_a_loaded_model_encodes_identically(
    trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats],
    autoencoder_frames: np.ndarray,
    tmp_path: Path,
) -> None:
    model, _ = trained_autoencoder
    loaded = ConvAutoencoder.load(model.save(tmp_path / "ae.pt"))
    assert loaded.config == model.config
    frames = autoencoder_frames[:16]
    np.testing.assert_array_equal(loaded.encode(frames), model.encode(frames))
    np.testing.assert_array_equal(
        loaded.reconstruction_error(frames), model.reconstruction_error(frames)
    )


def ppo_style_step(policy: EncoderActorCritic, frames: np.ndarray) -> None:
    """One optimizer step as PPO takes it: Adam over the trainable parameters held in one
    flat buffer, on a loss of the actor's and critic's outputs."""
    flat = FlatParameters(policy.parameters())
    optimizer = adam([flat.flat], lr=1e-2)
    logits, values = policy.heads(torch.as_tensor(frames))
    loss = -torch.log_softmax(logits, -1)[:, 0].mean() + values.pow(2).mean()
    flat.zero_grad()
    loss.backward()
    optimizer.step()


def unchanged(before: list[torch.Tensor], module: torch.nn.Module) -> list[bool]:
    return [torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True)]


@pytest.mark.parametrize("frozen", [True, False])
def test_a_frozen_encoder_does_not_change_under_an_optimizer_step_a_trainable_one_does(
    trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats],
    autoencoder_frames: np.ndarray,
    frozen: bool,
) -> None:
    model, _ = trained_autoencoder
    encoder = copy.deepcopy(model).encoder  # the session's model stays as trained
    assert isinstance(encoder, Encoder) and encoder.out_dim == model.config.latent_dim
    set_trainable(encoder, not frozen)
    policy = EncoderActorCritic(encoder, gym.spaces.Discrete(4))
    before_encoder = [p.detach().clone() for p in encoder.parameters()]
    before_heads = [p.detach().clone() for p in policy.mlps.parameters()]
    ppo_style_step(policy, autoencoder_frames[:32])
    encoder_same = unchanged(before_encoder, encoder)
    heads_same = unchanged(before_heads, policy.mlps)
    assert not any(heads_same)  # the heads learn either way
    if frozen:
        assert all(encoder_same)
    else:
        assert not any(encoder_same)
