"""PPO reading pixels through a pretrained encoder (a :class:`ConvAutoencoder`'s), frozen
(feature extraction: only the heads learn) or fine-tuned (the encoder learns too).

:class:`EncoderActorCritic` is PPO's :class:`~agents.deep.policies.ActorCritic` with the
given encoder in front of its actor and critic MLPs; :class:`PretrainedEncoderPPO` is PPO
building that network from an autoencoder checkpoint named in its config or, with none
named, pretraining the autoencoder itself on random-play frames of the env it learns
from, at the start of its first ``learn`` (so ``palaestra train --agent
ppo_pretrained_encoder`` works on any image env with nothing prepared).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv
from torch import nn

from agents.base import Callback
from agents.common.networks import Encoder
from agents.common.vector import single_env
from agents.deep.policies import ActorCritic
from agents.deep.ppo import PPO, PPOConfig
from agents.models.autoencoder import AutoencoderConfig, ConvAutoencoder, train_autoencoder
from agents.models.data import random_observations
from agents.models.training import FitConfig, set_trainable


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
    its encoder reads the observations. Empty: an autoencoder of the default size for the
    observation space is pretrained at the start of the first ``learn`` (see
    ``pretrain_frames``). A saved agent holds its encoder's weights and config and loads
    without the checkpoint."""
    freeze_encoder: bool = True
    """True: the encoder's weights stay as pretrained (feature extraction); False: they
    are fine-tuned with the actor and critic."""
    pretrain_frames: int = 2000
    """Without ``encoder_checkpoint``: random-play observations of the env (its first copy,
    seeded with the agent's seed) the autoencoder is pretrained on. Not counted in
    ``num_steps``."""
    pretrain_epochs: int = 20
    """Without ``encoder_checkpoint``: passes over those frames (Adam, the step size and
    batch size of :class:`~agents.models.training.FitConfig`)."""

    def checks(self) -> list[tuple[str, bool, str]]:
        return [
            *super().checks(),
            ("pretrain_frames", self.pretrain_frames >= 1, ">= 1"),
            ("pretrain_epochs", self.pretrain_epochs >= 1, ">= 1"),
        ]


class PretrainedEncoderPPO(PPO):
    """PPO from pixels through a pretrained convolutional encoder (see the module
    docstring). The env's observation space must be the autoencoder's frame shape.

    :attr:`encoder_pretrained` says whether the encoder holds pretrained weights yet (it
    is saved with the agent, so a resumed agent never pretrains again);
    :attr:`pretrain_stats` reports the pretraining this agent did.
    """

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
        self.encoder_pretrained = bool(self.config.encoder_checkpoint)
        self.pretrain_stats: dict[str, float] = {}

    def build_policy(self) -> ActorCritic:
        cfg = self.config
        if self.autoencoder_config is None and cfg.encoder_checkpoint:
            encoder = ConvAutoencoder.load(cfg.encoder_checkpoint).encoder
            self.autoencoder_config = encoder.config
        else:
            if self.autoencoder_config is None:  # pretrained at the first learn
                self.autoencoder_config = AutoencoderConfig.from_space(self.observation_space)
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

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "encoder_pretrained": self.encoder_pretrained}

    def load_extra_state(self, extra: dict[str, Any]) -> None:
        super().load_extra_state(extra)
        self.encoder_pretrained = bool(extra.get("encoder_pretrained", True))

    def learn(
        self, env: gym.Env | VectorEnv, total_steps: int, callback: Callback | None = None
    ) -> None:
        """Pretrain the encoder when it has no pretrained weights yet (no
        ``encoder_checkpoint``; first call only), then PPO until ``num_steps`` reaches
        ``total_steps``."""
        callback = callback if callback is not None else Callback()
        if not self.encoder_pretrained and self.num_steps < total_steps:
            frames_env = single_env(env, "pretraining collects frames")
            self.pretrain_stats = self.pretrain_encoder(frames_env)
            callback.on_update(self, {f"pretrain_{k}": v for k, v in self.pretrain_stats.items()})
        super().learn(env, total_steps, callback)

    def pretrain_encoder(self, env: gym.Env) -> dict[str, float]:
        """Train an autoencoder of :attr:`autoencoder_config` on ``pretrain_frames``
        random-play observations of ``env`` and load its encoder's weights into the
        policy's (frozen or not, as configured); returns the losses and the time taken."""
        cfg = self.config
        seed = self.seed if self.seed is not None else int(self.rng.integers(2**31))
        frames = random_observations(env, cfg.pretrain_frames, seed=seed)
        fit = FitConfig(
            epochs=cfg.pretrain_epochs,
            seed=seed,
            device=str(self.device),
            torch_threads=cfg.torch_threads,
        )
        model, stats = train_autoencoder(frames, self.autoencoder_config, fit)
        self.policy.actor_encoder.load_state_dict(model.encoder.state_dict())
        self.encoder_pretrained = True
        return {
            "initial_loss": stats.fit.initial_loss,
            "final_loss": stats.fit.final_loss,
            "frames": float(len(frames)),
            "seconds": stats.fit.seconds,
        }

    @classmethod
    def init_kwargs_from_json(cls, saved: dict[str, Any]) -> dict[str, Any]:
        return {"autoencoder": AutoencoderConfig(**saved["autoencoder"])}
