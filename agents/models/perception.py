"""CellCNN: a supervised model that reads a gridworld frame and says which cell holds the
agent and which the goal, trained on labels taken from the env's own state."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.common.networks import layer_init
from agents.common.torch_utils import resolve_device
from agents.models.checkpoint import ConfiguredModule
from agents.models.data import NO_CELL, LabelledFrames
from agents.models.training import FitConfig, FitStats, fit, seeded

KIND = "cell_cnn"
_IGNORE = -100  # cross_entropy's default ignore_index: frames without a goal label


@dataclass(frozen=True)
class CellCNNConfig:
    """Size of a :class:`CellCNN`."""

    tile_size: int = 8
    """Pixels per cell of the frames the model reads: the env's ``obs_tile_size``."""
    channels: int = 32
    """Features computed per cell before the two scores."""
    in_channels: int = 3
    """Colour channels of the frames (3 for the gridworld's ``rgb``)."""

    def __post_init__(self) -> None:
        for name in ("tile_size", "channels", "in_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"CellCNNConfig.{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class CellPrediction:
    """Predicted cells, one row per frame."""

    agent: np.ndarray
    """(N, 2) int64 (row, col) of the agent."""
    goal: np.ndarray
    """(N, 2) int64 (row, col) of the goal."""


@dataclass(frozen=True)
class CellAccuracy:
    """Fractions of frames whose cell was predicted exactly (row and column)."""

    agent: float
    """Over every frame."""
    goal: float
    """Over the frames whose map has one goal; NaN when none has."""
    frames: int
    """Frames evaluated."""


@dataclass(frozen=True)
class CellCNNStats:
    """Report of :func:`train_cell_cnn`."""

    fit: FitStats
    """Losses (agent plus goal cross-entropy) and timing."""
    train_accuracy: CellAccuracy
    """Accuracy on the training frames after training."""


class CellCNN(ConfiguredModule):
    """Scores every cell of a gridworld frame as "the agent is here" and "the goal is here".

    The first convolution's kernel and stride are the tile size, so it reads each cell's
    tile on its own (the frame's tile grid is the map's cell grid); two 1x1 convolutions
    then turn each cell's features into its two scores, and a softmax over the cells makes
    them a distribution. No layer sees where a cell is, so the model works on maps of any
    size and cannot memorise where the goal of its training maps was: a cell is recognised
    from its pixels alone, which is what lets it carry over to maps it never saw.

    ``forward`` takes (B, H, W, C) frames (uint8 or floats in 0..255) and returns (B, 2,
    rows, cols) logits: channel 0 the agent, channel 1 the goal.
    """

    kind = KIND
    config_class = CellCNNConfig

    def __init__(self, config: CellCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else CellCNNConfig()
        t, c = self.config.tile_size, self.config.channels
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(self.config.in_channels, c, t, stride=t)),
            nn.ReLU(),
            layer_init(nn.Conv2d(c, c, 1)),
            nn.ReLU(),
            layer_init(nn.Conv2d(c, 2, 1), gain=1.0),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        self.check_frames(tuple(frames.shape))
        return self.net(frames.float().permute(0, 3, 1, 2) / 255.0)

    def check_frames(self, shape: tuple[int, ...]) -> None:
        """ValueError, naming the expected layout, unless ``shape`` is a batch of frames
        of whole tiles of this model's size."""
        t, c = self.config.tile_size, self.config.in_channels
        if len(shape) != 4 or shape[3] != c or shape[1] % t or shape[2] % t or not shape[1]:
            raise ValueError(
                f"CellCNN reads (batch, rows * {t}, cols * {t}, {c}) frames, got shape "
                f"{shape}; is the env's obs_tile_size {t}?"
            )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def predict(self, frames: np.ndarray, batch_size: int = 1024) -> CellPrediction:
        """The most likely agent and goal cells of (N, H, W, C) frames (one frame: (H, W, C)
        is taken as a batch of one)."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        self.check_frames(frames.shape)
        cols = frames.shape[2] // self.config.tile_size
        flat = []
        for start in range(0, max(len(frames), 1), batch_size):  # an empty batch runs once
            x = torch.as_tensor(frames[start : start + batch_size], device=self.device)
            flat.append(self(x).flatten(2).argmax(-1).cpu())
        cells = torch.cat(flat).numpy()  # (N, 2): flat cell index of agent and goal
        row, col = np.divmod(cells, cols)
        return CellPrediction(
            agent=np.stack([row[:, 0], col[:, 0]], 1).astype(np.int64),
            goal=np.stack([row[:, 1], col[:, 1]], 1).astype(np.int64),
        )


def cell_accuracy(model: CellCNN, data: LabelledFrames) -> CellAccuracy:
    """How often ``model`` names the exact agent cell (all frames) and goal cell (frames
    whose map has one goal)."""
    predicted = model.predict(data.frames)
    agent_hits = np.all(predicted.agent == data.agent, axis=1)
    labelled = data.goal[:, 0] != NO_CELL
    goal_hits = np.all(predicted.goal[labelled] == data.goal[labelled], axis=1)
    return CellAccuracy(
        agent=float(agent_hits.mean()) if len(data) else math.nan,
        goal=float(goal_hits.mean()) if labelled.any() else math.nan,
        frames=len(data),
    )


def train_cell_cnn(
    data: LabelledFrames,
    config: CellCNNConfig | None = None,
    fit_config: FitConfig | None = None,
) -> tuple[CellCNN, CellCNNStats]:
    """Train a :class:`CellCNN` on labelled frames (e.g. :func:`enumerate_frames` of a few
    maps) with cross-entropy over cells, for the agent and for the goal.

    Returns the trained model (in eval mode, on ``fit_config.device``) and its report.
    """
    fit_config = fit_config if fit_config is not None else FitConfig()
    config = config if config is not None else CellCNNConfig()
    with seeded(fit_config.seed):
        model = CellCNN(config)
    device = resolve_device(fit_config.device)
    model.to(device)
    model.check_frames(data.frames.shape)
    cols = data.frames.shape[2] // config.tile_size
    frames = torch.as_tensor(data.frames, device=device)
    agent_target = torch.as_tensor(data.agent[:, 0] * cols + data.agent[:, 1], device=device)
    goal_flat = data.goal[:, 0] * cols + data.goal[:, 1]
    goal_flat[data.goal[:, 0] == NO_CELL] = _IGNORE
    goal_target = torch.as_tensor(goal_flat, device=device)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        logits = model(frames[batch]).flatten(2)  # (B, 2, cells)
        agent_loss = F.cross_entropy(logits[:, 0], agent_target[batch])
        goals = goal_target[batch]
        goal_sum = F.cross_entropy(logits[:, 1], goals, ignore_index=_IGNORE, reduction="sum")
        return agent_loss + goal_sum / (goals != _IGNORE).sum().clamp(min=1)

    stats = fit(model, loss_of, len(data), fit_config)
    return model, CellCNNStats(stats, cell_accuracy(model, data))
