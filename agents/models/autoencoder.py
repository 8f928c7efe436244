"""ConvAutoencoder: an unsupervised model of frames, pretrained on random play.

Its encoder (:class:`ConvEncoder`) is an :class:`~agents.common.networks.Encoder`, so a
policy can read pixels through it, frozen (feature extraction) or fine-tuned (see
:mod:`agents.models.encoder_ppo`); its per-frame reconstruction error is an anomaly score
(frames unlike the training frames reconstruct worse); its latent codes are what a PCA
plot shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

# The layout rule make_encoder uses, so a frame stack reads the same way for both.
from agents.common.networks import Encoder, _channels_last, layer_init
from agents.common.torch_utils import resolve_device
from agents.models.checkpoint import ConfiguredModule
from agents.models.training import FitConfig, FitStats, fit, seeded

KIND = "conv_autoencoder"

# Each convolution halves the frame (kernel 4, stride 2, padding 1), rounding down.
_KERNEL, _STRIDE, _PADDING = 4, 2, 1


@dataclass(frozen=True)
class AutoencoderConfig:
    """Shape and size of a :class:`ConvAutoencoder`."""

    frame_shape: tuple[int, int, int]
    """Shape of one frame as the env gives it: (H, W, C) when ``channels_last`` (the
    gridworld's ``rgb``), else (C, H, W) (frame stacks); see :meth:`from_space`."""
    channels_last: bool = True
    """Whether the channel axis of ``frame_shape`` is the last one."""
    channels: tuple[int, ...] = (16, 32, 32)
    """Output channels of the encoder's convolutions, each of which halves the frame; the
    decoder mirrors them."""
    latent_dim: int = 32
    """Size of the code between encoder and decoder (the features a policy reads)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_shape", tuple(int(d) for d in self.frame_shape))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.frame_shape) != 3 or min(self.frame_shape) < 1:
            raise ValueError(
                f"AutoencoderConfig.frame_shape must be 3 positive sizes, got {self.frame_shape}"
            )
        if not self.channels or min(self.channels) < 1:
            raise ValueError(
                f"AutoencoderConfig.channels must be positive widths, got {self.channels}"
            )
        if self.latent_dim < 1:
            raise ValueError(f"AutoencoderConfig.latent_dim must be >= 1, got {self.latent_dim}")
        smallest = min(self.spatial_sizes[-1])
        if smallest < 1:
            raise ValueError(
                f"frames of {self.height}x{self.width} pixels are too small for "
                f"{len(self.channels)} halving convolutions; use fewer channels entries"
            )

    @classmethod
    def from_space(cls, space: gym.Space, **overrides: object) -> AutoencoderConfig:
        """The config for an image observation space (rank-3 Box; channel axis 1, 3 or 4
        wide, last unless the first one is), with other fields from ``overrides``."""
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
            raise ValueError(f"an autoencoder reads rank-3 image spaces, got {space}")
        shape = tuple(space.shape)
        return cls(frame_shape=shape, channels_last=_channels_last(shape), **overrides)

    @property
    def in_channels(self) -> int:
        return self.frame_shape[-1] if self.channels_last else self.frame_shape[0]

    @property
    def height(self) -> int:
        return self.frame_shape[0] if self.channels_last else self.frame_shape[1]

    @property
    def width(self) -> int:
        return self.frame_shape[1] if self.channels_last else self.frame_shape[2]

    @property
    def spatial_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of the input and after each convolution."""
        sizes = [(self.height, self.width)]
        for _ in self.channels:
            h, w = sizes[-1]
            sizes.append((_halved(h), _halved(w)))
        return sizes


def _halved(n: int) -> int:
    return (n + 2 * _PADDING - _KERNEL) // _STRIDE + 1


class ConvEncoder(Encoder):
    """Frames (batched, uint8 or floats in 0..255, in the config's layout) -> codes of
    size ``out_dim``: halving convolutions with ReLU, then one linear layer.

    An :class:`~agents.common.networks.Encoder`, so a policy can read pixels through it;
    :func:`~agents.models.training.set_trainable` freezes it for feature extraction.
    """

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        last = config.in_channels
        for width in config.channels:
            layers += [layer_init(nn.Conv2d(last, width, _KERNEL, _STRIDE, _PADDING)), nn.ReLU()]
            last = width
        self.convs = nn.Sequential(*layers, nn.Flatten())
        h, w = config.spatial_sizes[-1]
        self.head = layer_init(nn.Linear(last * h * w, config.latent_dim), gain=1.0)
        self.out_dim = config.latent_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(to_channels_first(obs, self.config)))


class ConvDecoder(nn.Module):
    """Codes -> frames in [0, 1], channel first: the encoder's layers mirrored, with
    transposed convolutions told the exact size to restore (odd sides included)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        h, w = config.spatial_sizes[-1]
        self.start_shape = (config.channels[-1], h, w)
        self.head = nn.Sequential(
            layer_init(nn.Linear(config.latent_dim, int(np.prod(self.start_shape)))), nn.ReLU()
        )
        widths = [*reversed(config.channels[:-1]), config.in_channels]
        last = config.channels[-1]
        self.deconvs = nn.ModuleList()
        for width in widths:
            self.deconvs.append(nn.ConvTranspose2d(last, width, _KERNEL, _STRIDE, _PADDING))
            last = width
        # The size each transposed convolution must produce: the encoder's sizes backwards.
        self.sizes = list(reversed(config.spatial_sizes[:-1]))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.head(codes).view(-1, *self.start_shape)
        for i, (deconv, size) in enumerate(zip(self.deconvs, self.sizes, strict=True)):
            x = deconv(x, output_size=size)
            if i < len(self.deconvs) - 1:
                x = torch.relu(x)
        return torch.sigmoid(x)


def to_channels_first(frames: torch.Tensor, config: AutoencoderConfig) -> torch.Tensor:
    """A batch of frames as floats in [0, 1], (B, C, H, W); ValueError on a wrong shape."""
    if tuple(frames.shape[1:]) != config.frame_shape:
        sizes = ", ".join(map(str, config.frame_shape))
        raise ValueError(
            f"autoencoder expects frames of shape (batch, {sizes}), got {tuple(frames.shape)}"
        )
    x = frames.float() / 255.0
    return x.permute(0, 3, 1, 2) if config.channels_last else x


class ConvAutoencoder(ConfiguredModule):
    """Encoder and decoder of frames, trained to reproduce its input through a
    ``latent_dim``-wide code (mean squared error on pixels scaled to [0, 1])."""

    kind = KIND
    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoder(config)
        self.decoder = ConvDecoder(config)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Reconstructions in [0, 1], channel first (B, C, H, W)."""
        return self.decoder(self.encoder(frames))

    def frame_errors(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,) mean squared error of each frame's reconstruction (pixels in [0, 1])."""
        target = to_channels_first(frames, self.config)
        return (self(frames) - target).pow(2).flatten(1).mean(1)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def encode(self, frames: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """(N, latent_dim) float32 codes of (N, *frame_shape) frames."""
        return self._batched(self.encoder, frames, batch_size)

    @torch.no_grad()
    def reconstruction_error(self, frames: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """(N,) float32 mean squared reconstruction error of each frame: the anomaly score
        (higher: less like the frames the model was trained on)."""
        return self._batched(self.frame_errors, frames, batch_size)

    def _batched(self, fn: nn.Module, frames: np.ndarray, batch_size: int) -> np.ndarray:
        frames = np.asarray(frames)
        outs = [
            fn(torch.as_tensor(frames[i : i + batch_size], device=self.device)).cpu()
            for i in range(0, max(len(frames), 1), batch_size)  # an empty batch runs once
        ]
        return torch.cat(outs).numpy()


@dataclass(frozen=True)
class AutoencoderStats:
    """Report of :func:`train_autoencoder`."""

    fit: FitStats
    """Per-epoch mean reconstruction loss and timing."""
    train_errors: np.ndarray = field(repr=False)
    """(N,) reconstruction error of each training frame after training."""


def train_autoencoder(
    frames: np.ndarray,
    config: AutoencoderConfig | None = None,
    fit_config: FitConfig | None = None,
) -> tuple[ConvAutoencoder, AutoencoderStats]:
    """Train a :class:`ConvAutoencoder` on (N, *frame_shape) uint8 frames (e.g. from
    :func:`~agents.models.data.random_play_frames`); ``config`` defaults to the frames'
    shape (channel axis last when it is 1, 3 or 4 wide) with default sizes.

    Returns the trained model (in eval mode, on ``fit_config.device``) and its report.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must be (N, H, W, C) or (N, C, H, W), got shape {frames.shape}")
    if config is None:
        config = AutoencoderConfig.from_space(gym.spaces.Box(0, 255, frames.shape[1:], np.uint8))
    fit_config = fit_config if fit_config is not None else FitConfig()
    with seeded(fit_config.seed):
        model = ConvAutoencoder(config)
    model.to(resolve_device(fit_config.device))
    data = torch.as_tensor(frames, device=model.device)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        return model.frame_errors(data[batch]).mean()

    stats = fit(model, loss_of, len(frames), fit_config)
    return model, AutoencoderStats(stats, model.reconstruction_error(frames))
