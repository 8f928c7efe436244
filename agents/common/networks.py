"""Networks shared by every deep learner: encoders chosen from the observation space, MLP
heads, the Nature-DQN CNN and an optional GRU core.

``make_encoder(space)`` picks the encoder a user would expect from the space alone:

- ``Box`` of rank 1 (CartPole, ``coords``): flattened, float;
- ``Box`` image of rank 3, uint8, at least 36 pixels a side (``rgb``, Atari frame stacks):
  the Nature-DQN CNN on pixels scaled to [0, 1], channel first or channel last;
- any other rank-3 ``Box`` (one-hot ``grid``/``egocentric`` planes, channel first): a small
  3x3 CNN that keeps the spatial size, then flattened;
- ``Discrete``: one-hot; ``MultiBinary``/other ``Box`` ranks: flattened;
- ``Dict``: one encoder per key, concatenated; the ``action_mask`` key is not encoded
  (masks constrain actions, they are not features).
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common.masking import MASK_KEY

# The Nature-DQN convolutions (8/4, 4/2, 3/1) need at least this many pixels a side.
MIN_CNN_SIDE = 36


def layer_init(layer: nn.Linear | nn.Conv2d, gain: float = np.sqrt(2), bias: float = 0.0):
    """Orthogonal weights, constant bias: the initialisation PPO/A2C results depend on."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None,
    activation: type[nn.Module] = nn.Tanh,
    out_gain: float = 1.0,
) -> nn.Sequential:
    """Linear layers with ``activation`` between them; ``out_dim=None`` ends on the last hidden."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [layer_init(nn.Linear(last, width)), activation()]
        last = width
    if out_dim is not None:
        layers.append(layer_init(nn.Linear(last, out_dim), gain=out_gain))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Observation tensor (batched) -> feature vector of size ``out_dim``."""

    out_dim: int


class FlattenEncoder(Encoder):
    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.out_dim = int(np.prod(shape))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.flatten(1).float()


class OneHotEncoder(Encoder):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.out_dim = n

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(obs.long().flatten(), self.out_dim).float()


class NatureCNN(Encoder):
    """Mnih et al. (2015): three convolutions and a 512-unit layer, on pixels / 255."""

    def __init__(self, shape: Sequence[int], channels_last: bool, features: int = 512) -> None:
        super().__init__()
        self.channels_last = channels_last
        c = shape[-1] if channels_last else shape[0]
        self.convs = nn.Sequential(
            layer_init(nn.Conv2d(c, 32, 8, stride=4)),
            nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n = self.convs(torch.zeros(1, c, *self._hw(shape))).shape[1]
        self.head = nn.Sequential(layer_init(nn.Linear(n, features)), nn.ReLU())
        self.out_dim = features

    def _hw(self, shape: Sequence[int]) -> tuple[int, int]:
        return (shape[0], shape[1]) if self.channels_last else (shape[1], shape[2])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() / 255.0
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.head(self.convs(x))


class GridCNN(Encoder):
    """Two 3x3 convolutions that keep the map size, for small one-hot planes (C, H, W)."""

    def __init__(self, shape: Sequence[int], channels: int = 32) -> None:
        super().__init__()
        c, h, w = shape
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(c, channels, 3, padding=1)),
            nn.ReLU(),
            layer_init(nn.Conv2d(channels, channels, 3, padding=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.out_dim = channels * h * w

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float())


class DictEncoder(Encoder):
    def __init__(self, space: gym.spaces.Dict) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(
            {k: make_encoder(s) for k, s in space.spaces.items() if k != MASK_KEY}
        )
        if not self.encoders:
            raise ValueError("Dict observation space has nothing to encode besides action_mask")
        self.out_dim = sum(e.out_dim for e in self.encoders.values())

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([enc(obs[k]) for k, enc in self.encoders.items()], dim=1)


def is_image_space(space: gym.Space) -> bool:
    """A rank-3 uint8 Box with both spatial sides large enough for the Nature CNN."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
        return False
    if space.dtype != np.uint8:
        return False
    return min(_spatial(space.shape)) >= MIN_CNN_SIDE


def _channels_last(shape: Sequence[int]) -> bool:
    return shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4)


def _spatial(shape: Sequence[int]) -> tuple[int, int]:
    return (shape[0], shape[1]) if _channels_last(shape) else (shape[1], shape[2])


def make_encoder(space: gym.Space) -> Encoder:
    """The encoder for ``space`` (see the module docstring for the rules)."""
    if isinstance(space, gym.spaces.Dict):
        return DictEncoder(space)
    if isinstance(space, gym.spaces.Discrete):
        return OneHotEncoder(int(space.n))
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3:
        if is_image_space(space):
            return NatureCNN(space.shape, channels_last=_channels_last(space.shape))
        return GridCNN(space.shape)
    if isinstance(space, (gym.spaces.Box, gym.spaces.MultiBinary)):
        return FlattenEncoder(space.shape)
    raise ValueError(
        f"no encoder for observation space {space}; supported: Box, Discrete, MultiBinary, Dict"
    )


class GRUCore(nn.Module):
    """A GRU between encoder and heads, for partial observability (e.g. ``egocentric``).

    ``forward(x, h, starts)`` runs a sequence of shape (T, B, F) and resets the hidden state
    of every env where ``starts`` (T, B) marks the first step of an episode.
    """

    def __init__(self, in_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.hidden = hidden
        self.gru = nn.GRU(in_dim, hidden)
        self.out_dim = hidden

    def initial_state(self, batch: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(1, batch, self.hidden, device=device)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = []
        for t in range(x.shape[0]):
            h = h * (1.0 - starts[t].float()).view(1, -1, 1)
            out, h = self.gru(x[t : t + 1], h)
            outputs.append(out)
        return torch.cat(outputs), h
