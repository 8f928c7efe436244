"""The one minibatch loop every perception model trains with, its settings and report."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from agents.common.torch_utils import adam, check_finite, resolve_device, torch_threads


@dataclass(frozen=True)
class FitConfig:
    """How a perception model is trained: Adam on shuffled minibatches for some epochs."""

    epochs: int = 30
    """Passes over the training data."""
    batch_size: int = 64
    """Frames (or observations) per gradient step; the last minibatch of an epoch may be
    smaller."""
    learning_rate: float = 1e-2
    """Adam step size. 1e-2 was measured to train both the CellCNN and the autoencoder on
    gridworld frames in 20-25 epochs (3e-3 needed about twice as many)."""
    seed: int = 0
    """Seeds the initial weights and the shuffling, so a run repeats exactly on CPU."""
    device: str = "auto"
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    torch_threads: int | None = 1
    """CPU threads torch may use while training (restored afterwards); None leaves torch's
    setting. Small convolutions on small batches gain little from more."""

    def __post_init__(self) -> None:
        checks = (
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("learning_rate", 0 < self.learning_rate < math.inf, "a finite number > 0"),
            ("torch_threads", self.torch_threads is None or self.torch_threads >= 1, ">= 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"FitConfig.{name} must be {expected}, got {value!r}")

    @property
    def threads(self) -> int | None:
        """Threads for :func:`~agents.common.torch_utils.torch_threads` (CPU only)."""
        return self.torch_threads if resolve_device(self.device).type == "cpu" else None


@dataclass(frozen=True)
class FitStats:
    """What a training run did."""

    losses: tuple[float, ...]
    """Mean training loss of each epoch, first to last."""
    initial_loss: float
    """Loss on the whole training set before the first step (the baseline a falling loss
    is measured against)."""
    steps: int
    """Gradient steps taken."""
    seconds: float
    """Wall-clock time of the loop."""

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Torch's global RNG seeded for the block and restored afterwards, so building a model
    under a seed does not change the caller's random stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Freeze (``False``: ``requires_grad`` off, so optimizers that take only trainable
    parameters, as palaestra's learners do, never change it) or unfreeze ``module``."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


def fit(
    model: nn.Module,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    config: FitConfig,
) -> FitStats:
    """Minimise ``loss_of(indices)``, the mean loss of the training rows ``indices`` (a 1-d
    long tensor on the model's device), over ``n`` rows in shuffled minibatches.

    Raises NonFiniteError (naming the epoch) if the loss becomes NaN or inf.
    """
    if n < 1:
        raise ValueError("no training data: need at least one frame")
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = adam(params, lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    steps = 0
    start = time.perf_counter()
    with torch_threads(config.threads):
        model.train()
        with torch.no_grad():
            initial = _mean_loss(loss_of, n, config.batch_size, device)
        for epoch in range(config.epochs):
            order = torch.randperm(n, generator=generator).to(device)
            total = torch.zeros((), device=device)
            for batch in order.split(config.batch_size):
                loss = loss_of(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(batch)
                steps += 1
            check_finite(epoch, loss=total)
            losses.append(float(total) / n)
        model.eval()
    return FitStats(tuple(losses), initial, steps, time.perf_counter() - start)


def _mean_loss(
    loss_of: Callable[[torch.Tensor], torch.Tensor], n: int, batch_size: int, device: torch.device
) -> float:
    total = sum(
        float(loss_of(batch)) * len(batch)
        for batch in torch.arange(n, device=device).split(batch_size)
    )
    return total / n
