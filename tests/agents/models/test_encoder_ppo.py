"""PPO from pixels through the pretrained autoencoder's encoder, frozen or fine-tuned."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from perception_cases import AE_SEEN_MAZES, TILE

import envs  # noqa: F401  (registers the palaestra ids)
from agents.models import (
    AutoencoderConfig,
    AutoencoderStats,
    ConvAutoencoder,
    FitConfig,
    PretrainedEncoderPPO,
    PretrainedEncoderPPOConfig,
    random_observations,
    train_autoencoder,
)

TINY_PPO = {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 2, "device": "cpu"}


def maze(**kwargs: object) -> gym.Env:
    return gym.make(
        "palaestra/Maze-v0",
        maze_size=9,
        maze_seed=AE_SEEN_MAZES[0],
        observation_mode="rgb",
        obs_tile_size=TILE,
        **kwargs,
    )


@pytest.fixture
def checkpoint(
    trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats], tmp_path: Path
) -> Path:
    return trained_autoencoder[0].save(tmp_path / "ae.pt")


def make_agent(checkpoint: Path, freeze: bool) -> tuple[PretrainedEncoderPPO, gym.Env]:
    env = maze()
    config = PretrainedEncoderPPOConfig(
        encoder_checkpoint=str(checkpoint), freeze_encoder=freeze, **TINY_PPO
    )
    return PretrainedEncoderPPO(env.observation_space, env.action_space, config, seed=0), env


@pytest.mark.parametrize("freeze", [True, False])
def test_the_encoder_starts_pretrained_and_learns_only_when_not_frozen(
    checkpoint: Path,
    trained_autoencoder: tuple[ConvAutoencoder, AutoencoderStats],
    freeze: bool,
) -> None:
    agent, env = make_agent(checkpoint, freeze)
    encoder = agent.policy.actor_encoder
    assert agent.policy.critic_encoder is encoder
    pretrained = trained_autoencoder[0].encoder.state_dict()
    for name, value in encoder.state_dict().items():
        torch.testing.assert_close(value, pretrained[name], rtol=0, atol=0)
    heads_before = [p.detach().clone() for p in agent.policy.mlps.parameters()]
    agent.learn(env, total_steps=64)  # two PPO updates
    assert agent.num_updates == 2
    encoder_same = [torch.equal(v, pretrained[k]) for k, v in encoder.state_dict().items()]
    heads_same = [
        torch.equal(a, b) for a, b in zip(heads_before, agent.policy.mlps.parameters(), strict=True)
    ]
    assert not any(heads_same)
    assert all(encoder_same) if freeze else not any(encoder_same)


def test_a_loaded_agent_acts_identically_without_the_autoencoder_file(checkpoint: Path) -> None:
    agent, env = make_agent(checkpoint, freeze=False)
    agent.learn(env, total_steps=32)
    saved = agent.save(checkpoint.parent / "agent.pt")
    checkpoint.unlink()  # the agent's file holds the (fine-tuned) encoder itself
    loaded = PretrainedEncoderPPO.load(saved)
    assert loaded.config == agent.config
    assert loaded.autoencoder_config == agent.autoencoder_config
    frames = [maze().reset(seed=s)[0] for s in range(3)]
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        frames.append(env.step(env.action_space.sample())[0])
    assert [loaded.act(f) for f in frames] == [agent.act(f) for f in frames]
    with torch.no_grad():
        x = torch.as_tensor(np.stack(frames))
        torch.testing.assert_close(loaded.policy.value(x), agent.policy.value(x), rtol=0, atol=0)


def test_a_non_image_space_or_mismatched_encoder_is_named(checkpoint: Path) -> None:
    env = maze()
    with pytest.raises(ValueError, match="rank-3 image spaces, got Discrete"):
        PretrainedEncoderPPO(gym.spaces.Discrete(9), env.action_space, PretrainedEncoderPPOConfig())
    other = gym.make("palaestra/GridWorld-v0", observation_mode="rgb", obs_tile_size=TILE)
    config = PretrainedEncoderPPOConfig(encoder_checkpoint=str(checkpoint), device="cpu")
    with pytest.raises(ValueError, match=r"shape \(20, 32, 3\) but the encoder"):
        PretrainedEncoderPPO(other.observation_space, other.action_space, config)


def test_without_a_checkpoint_the_first_learn_pretrains_the_encoder_once(tmp_path: Path) -> None:
    env = maze()
    config = PretrainedEncoderPPOConfig(pretrain_frames=64, pretrain_epochs=2, **TINY_PPO)
    agent = PretrainedEncoderPPO(env.observation_space, env.action_space, config, seed=0)
    assert not agent.encoder_pretrained
    assert agent.autoencoder_config == AutoencoderConfig.from_space(env.observation_space)
    untrained = {k: v.clone() for k, v in agent.policy.actor_encoder.state_dict().items()}
    agent.learn(env, total_steps=32)
    # The encoder holds the weights of an autoencoder trained on the env's random play
    # (same frames and seed), and stays frozen through PPO's update.
    frames = random_observations(maze(), 64, seed=0)
    fit = FitConfig(epochs=2, seed=0, device="cpu")
    expected = train_autoencoder(frames, agent.autoencoder_config, fit)[0].encoder.state_dict()
    pretrained = agent.policy.actor_encoder.state_dict()
    for name, value in pretrained.items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0)
        assert not torch.equal(value, untrained[name])
    assert agent.encoder_pretrained and agent.pretrain_stats["frames"] == 64
    assert agent.pretrain_stats["final_loss"] < agent.pretrain_stats["initial_loss"]
    loaded = PretrainedEncoderPPO.load(agent.save(tmp_path / "agent.pt"))
    assert loaded.encoder_pretrained
    loaded.learn(env, total_steps=64)  # a resumed agent goes on with PPO alone
    assert loaded.pretrain_stats == {}
    for name, value in loaded.policy.actor_encoder.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0)
