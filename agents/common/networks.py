"""Networks shared by every deep learner: encoders chosen from the observation space, MLP
heads, the Nature-DQN CNN, a graph encoder (in :mod:`agents.common.gnn`) and an optional
GRU core.

``make_encoder(space)`` picks the encoder a user would expect from the space alone:

- ``Box`` of rank 1 (CartPole, ``coords``): flattened, float;
- ``Box`` image of rank 3, uint8 pixels, at least 36 pixels a side (``rgb``, Atari frame
  stacks): the Nature-DQN CNN on pixels scaled to [0, 1], channel first or channel last;
- smaller pixel frames (a 3x3 map drawn at 8 px a cell): the small CNN below, on pixels
  scaled to [0, 1], channel first or channel last;
- any other rank-3 ``Box`` (one-hot ``grid``/``egocentric`` planes, channel first): a small
  3x3 CNN that keeps the spatial size, then flattened;
- ``Discrete``: one-hot; ``MultiBinary``/other ``Box`` ranks: flattened;
- ``Dict`` with a graph view (``view_nodes``, ``view_adjacency``, ``view_mask`` and
  ``action_mask``, as GraphNav's): the message-passing
  :class:`~agents.common.gnn.GraphEncoder`, which also embeds each action;
- ``Dict`` of tokens with pointer-style actions (``tokens``, ``token_slots``,
  ``action_args``, ``action_mask``, as the structured tool-use interface's): the
  transformer :class:`~agents.common.transformer.TokenActionEncoder`, which also embeds
  each action;
- other ``Dict``: one encoder per key, concatenated; the ``action_mask`` key is not encoded
  (masks constrain actions, they are not features).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common.masking import MASK_KEY

if TYPE_CHECKING:
    from agents.common.gnn import GNNConfig
    from agents.common.transformer import TransformerConfig

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


class ParallelMLPs(nn.Module):
    """Several MLPs over the same input, with the same hidden widths, run as one chain of
    batched matrix products (``baddbmm``): member ``j`` maps ``in_dim`` to ``out_dims[j]``.

    An actor and a critic of the same shape are two such members. Computing them together
    halves the number of kernels and autograd nodes per pass, which is most of the cost of
    a small MLP on CPU (measured on 2 cores, actor and critic 4-64-64-{2,1}: forward and
    backward on 256 rows 605 us against 708 us as two ``nn.Sequential``; one forward on 8
    rows 23 us against 64 us). Each member is initialised like :func:`mlp` (orthogonal,
    gain sqrt(2) for hidden layers, ``out_gains[j]`` for its output layer, zero biases).
    Narrower members' output layers are zero-padded to the widest; the padding is never
    read, so it gets no gradient and stays zero.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dims: Sequence[int],
        activation: type[nn.Module] = nn.Tanh,
        out_gains: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.out_dims = tuple(int(d) for d in out_dims)
        gains = tuple(out_gains) if out_gains is not None else (1.0,) * len(self.out_dims)
        widths = [in_dim, *hidden]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(widths):
            self._add_layer(fan_in, [fan_out] * len(self.out_dims), [np.sqrt(2)] * len(gains))
        self._add_layer(widths[-1], self.out_dims, gains)
        self.activation = activation()
        # Indexing a ParameterList costs a string lookup per item, a third of this module's
        # time on a batch of 8 rows; the same Parameter objects, held in a plain tuple, cost
        # nothing (``.to()`` and ``load_state_dict`` update them in place).
        self._layers = tuple(zip(self.weights, self.biases, strict=True))

    def _add_layer(self, fan_in: int, fan_outs: Sequence[int], gains: Sequence[float]) -> None:
        weight = torch.zeros(len(fan_outs), fan_in, max(fan_outs))
        for j, (fan_out, gain) in enumerate(zip(fan_outs, gains, strict=True)):
            # Orthogonal in nn.Linear's (out, in) layout, stored transposed for baddbmm.
            weight[j, :, :fan_out] = nn.init.orthogonal_(torch.empty(fan_out, fan_in), gain).T
        self.weights.append(nn.Parameter(weight))
        self.biases.append(nn.Parameter(torch.zeros(len(fan_outs), 1, max(fan_outs))))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every member's output for a batch ``x`` of shape (B, in_dim) that all members
        read, or of shape (M, B, in_dim): one batch per member (an ensemble whose members
        train on different bootstrap samples)."""
        members = len(self.out_dims)
        if x.dim() == 3 and x.shape[0] != members:
            raise ValueError(
                f"per-member input has {x.shape[0]} batches for {members} members: {x.shape}"
            )
        h = x if x.dim() == 3 else x.expand(members, *x.shape)
        *hidden, (weight, bias) = self._layers
        if isinstance(self.activation, nn.Tanh) and hidden:
            return self._split(self._tanh_as_sigmoid(h))
        for w, b in hidden:
            h = self.activation(torch.baddbmm(b, h, w))
        return self._split(torch.baddbmm(bias, h, weight))

    def _tanh_as_sigmoid(self, h: torch.Tensor) -> torch.Tensor:
        """The tanh MLP through ``tanh(z) = 2 sigmoid(2z) - 1``, with the affine parts folded
        into the matrix products.

        Torch's CPU tanh kernel is scalar: ~5x the time of its sigmoid per element (measured
        85 us against 16 us on 2x256x64), the largest single cost of a PPO minibatch step.
        With ``s = sigmoid(2z)`` the next layer's ``(2s - 1) @ W + b`` is
        ``2 (s @ W) + (b - sum of W's rows)``, and ``baddbmm``'s ``alpha``/``beta`` do the
        scaling for free, so the same function of the same parameters costs one sigmoid and
        two tiny ops per layer instead of a tanh: forward and backward 545 us instead of
        630 us. Results agree with the tanh form to float32 rounding.
        """
        *hidden, (weight, bias) = self._layers
        w, b = hidden[0]
        s = torch.sigmoid(torch.baddbmm(b, h, w, beta=2.0, alpha=2.0))  # sigmoid(2 z1)
        for w, b in hidden[1:]:
            s = torch.sigmoid(torch.baddbmm(b - w.sum(-2, keepdim=True), s, w, beta=2.0, alpha=4.0))
        return torch.baddbmm(bias - weight.sum(-2, keepdim=True), s, weight, alpha=2.0)

    def _split(self, out: torch.Tensor) -> list[torch.Tensor]:
        return [out[j, :, :d] for j, d in enumerate(self.out_dims)]


class Encoder(nn.Module):
    """Observation tensor (batched) -> feature vector of size ``out_dim``.

    An encoder with ``scores_actions = True`` also embeds each of the ``n_actions``
    discrete actions (:meth:`encode_actions`), so learners can score actions with one head
    shared by all of them instead of one output unit per action: a graph encoder's actions
    are "move to neighbour k", and which neighbour is listed k-th carries no meaning.
    """

    out_dim: int
    scores_actions: bool = False
    """True when :meth:`encode_actions` is available."""
    n_actions: int = 0
    """Actions :meth:`encode_actions` embeds (encoders that score actions)."""
    action_dim: int = 0
    """Width of each per-action vector (encoders that score actions)."""

    def encode_actions(self, obs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(state features (B, out_dim), per-action features (B, n_actions, action_dim)),
        computed in one pass."""
        raise NotImplementedError(f"{type(self).__name__} does not embed actions")


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
    """Two 3x3 convolutions that keep the map size, then flattened: for small one-hot
    planes (C, H, W), and for pixel frames too small for the Nature CNN (``pixels=True``:
    uint8 scaled to [0, 1], channel last where ``channels_last``)."""

    def __init__(
        self,
        shape: Sequence[int],
        channels: int = 32,
        *,
        channels_last: bool = False,
        pixels: bool = False,
    ) -> None:
        super().__init__()
        h, w, c = shape if channels_last else (shape[1], shape[2], shape[0])
        self.channels_last = channels_last
        self.scale = 1.0 / 255.0 if pixels else 1.0
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(c, channels, 3, padding=1)),
            nn.ReLU(),
            layer_init(nn.Conv2d(channels, channels, 3, padding=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.out_dim = channels * h * w

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() * self.scale
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.net(x)


class DictEncoder(Encoder):
    def __init__(self, space: gym.spaces.Dict, gnn: GNNConfig | None = None) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(
            {k: make_encoder(s, gnn) for k, s in space.spaces.items() if k != MASK_KEY}
        )
        if not self.encoders:
            raise ValueError("Dict observation space has nothing to encode besides action_mask")
        self.out_dim = sum(e.out_dim for e in self.encoders.values())

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([enc(obs[k]) for k, enc in self.encoders.items()], dim=1)


def is_pixel_space(space: gym.Space) -> bool:
    """A rank-3 uint8 Box of pixel values (0-255), as rendered frames are; one-hot planes
    (bounded by 1) are not pixels."""
    return (
        isinstance(space, gym.spaces.Box)
        and len(space.shape) == 3
        and space.dtype == np.uint8
        and int(space.high.max()) > 1
    )


def is_image_space(space: gym.Space) -> bool:
    """Pixels with both spatial sides large enough for the Nature CNN."""
    return is_pixel_space(space) and min(_spatial(space.shape)) >= MIN_CNN_SIDE


def _channels_last(shape: Sequence[int]) -> bool:
    return shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4)


def _spatial(shape: Sequence[int]) -> tuple[int, int]:
    return (shape[0], shape[1]) if _channels_last(shape) else (shape[1], shape[2])


def make_encoder(
    space: gym.Space,
    gnn: GNNConfig | None = None,
    transformer: TransformerConfig | None = None,
) -> Encoder:
    """The encoder for ``space`` (see the module docstring for the rules); ``gnn`` sizes
    the graph encoder and ``transformer`` the token encoder; other spaces ignore them."""
    # Imported here: gnn.py builds on this module's Encoder and layer_init.
    from agents.common.gnn import GraphEncoder, is_graph_space
    from agents.common.transformer import TokenActionEncoder, is_token_action_space

    if is_graph_space(space):
        return GraphEncoder(space, gnn)
    if is_token_action_space(space):
        return TokenActionEncoder(space, transformer)
    if isinstance(space, gym.spaces.Dict):
        return DictEncoder(space, gnn)
    if isinstance(space, gym.spaces.Discrete):
        return OneHotEncoder(int(space.n))
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3:
        if is_image_space(space):
            return NatureCNN(space.shape, channels_last=_channels_last(space.shape))
        if is_pixel_space(space):  # too small for the Nature CNN's strides
            return GridCNN(space.shape, channels_last=_channels_last(space.shape), pixels=True)
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
