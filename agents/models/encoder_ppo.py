"""PPO reading pixels through a pretrained encoder (a :class:`ConvAutoencoder`'s), frozen
(feature extraction: only the heads learn) or fine-tuned (the encoder learns too).

:class:`EncoderActorCritic` is PPO's :class:`~agents.deep.policies.ActorCritic` with the
given encoder in front of its actor and critic MLPs; :class:`PretrainedEncoderPPO` is PPO
building that network from an autoencoder checkpoint named in its config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from torch import nn

from agents.common.networks import Encoder
from agents.deep.policies import ActorCritic
from agents.deep.ppo import PPO, PPOConfig
from agents.models.autoencoder import AutoencoderConfig, ConvAutoencoder
from agents.models.training import set_trainable


class EncoderActorCritic(ActorCritic):
    """An actor-critic whose observations go through ``encoder`` first; the actor and
    critic MLPs (``hidden`` wide, fused as in PPO) read its ``out_dim`` features.

    The encoder is shared by actor and critic. Frozen (``requires_grad`` off, see
    :func:`~agents.models.training.set_trainable`), it is left out of the learner's
    optimizer and never changes; trainable, it is fine-tuned with the heads.
    """

    def __init__(
        self,
        encoder: Encoder,
        action_space: gym.Space,
        hidden: tuple[int, ...] = (64, 64),
        activation: type[nn.Module] = nn.Tanh,
    ) -> None:
        features = gym.spaces.Box(-np.inf, np.inf, (encoder.out_dim,), np.float32)
        super().__init__(features, action_space, hidden, activation, fused=True)
        # The fused heads read ``actor_encoder``; the critic shares it.
        self.actor_encoder = encoder
        self.critic_encoder = encoder


@dataclass(frozen=True)
class PretrainedEncoderPPOConfig(PPOConfig):
    """PPO settings plus where its pixel encoder comes from and whether it learns."""

    encoder_checkpoint: str = ""
    """Path of a :class:`~agents.models.autoencoder.ConvAutoencoder` checkpoint (``.pt``);
    its encoder reads the observations. Needed to build a new agent; a saved agent holds
    its encoder's weights and config and loads without it."""
    freeze_encoder: bool = True
    """True: the encoder's weights stay as pretrained (feature extraction); False: they
    are fine-tuned with the actor and critic."""


class PretrainedEncoderPPO(PPO):
    """PPO from pixels through a pretrained convolutional encoder (see the module
    docstring). The env's observation space must be the autoencoder's frame shape."""

    name = "ppo_pretrained_encoder"
    config_class = PretrainedEncoderPPOConfig
    config: PretrainedEncoderPPOConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: PretrainedEncoderPPOConfig | None = None,
        seed: int | None = None,
        autoencoder: AutoencoderConfig | None = None,
    ) -> None:
        # Set before PPO's constructor, which calls build_policy. A loaded agent passes the
        # saved architecture here; its weights then come from the agent's own checkpoint.
        self.autoencoder_config = autoencoder
        super().__init__(observation_space, action_space, config, seed)

    def build_policy(self) -> ActorCritic:
        cfg = self.config
        if self.autoencoder_config is None:
            if not cfg.encoder_checkpoint:
                raise ValueError(
                    "PretrainedEncoderPPOConfig.encoder_checkpoint is empty: name the "
                    "ConvAutoencoder checkpoint (.pt) whose encoder reads the pixels"
                )
            encoder = ConvAutoencoder.load(cfg.encoder_checkpoint).encoder
            self.autoencoder_config = encoder.config
        else:
            encoder = ConvAutoencoder(self.autoencoder_config).encoder
        shape = tuple(self.observation_space.shape or ())
        if shape != encoder.config.frame_shape:
            raise ValueError(
                f"the env's observations have shape {shape} but the encoder in "
                f"{cfg.encoder_checkpoint or 'the checkpoint'} reads frames of shape "
                f"{encoder.config.frame_shape}"
            )
        set_trainable(encoder, not cfg.freeze_encoder)
        return EncoderActorCritic(encoder, self.action_space, cfg.hidden)

    def init_kwargs(self) -> dict[str, Any]:
        return {"autoencoder": asdict(self.autoencoder_config)}

    @classmethod
    def init_kwargs_from_json(cls, saved: dict[str, Any]) -> dict[str, Any]:
        return {"autoencoder": AutoencoderConfig(**saved["autoencoder"])}
