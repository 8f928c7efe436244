"""Devices, tensors from observations, and the guard that stops training on NaN or inf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; ``"cuda"`` without CUDA is a ValueError."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r}; valid devices: auto, cpu, cuda, cuda:N")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    return torch.device(device)


def as_tensor(x: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """Arrays (or dicts of them) as tensors on ``device``; tensors already there are not copied.

    An env that already returns tensors on the device costs nothing here, which is what
    keeps a device-resident env free of host round trips.
    """
    if isinstance(x, Mapping):
        return {k: as_tensor(v, device, dtype) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype or x.dtype, non_blocking=True)
    return torch.as_tensor(np.asarray(x), device=device, dtype=dtype)


class NonFiniteError(FloatingPointError):
    """Training produced NaN or inf; the message names the step and the quantity."""


def check_finite(step: int, **quantities: torch.Tensor) -> None:
    """Raise NonFiniteError naming the first quantity that holds NaN or inf."""
    for name, value in quantities.items():
        if not bool(torch.isfinite(value).all()):
            raise NonFiniteError(
                f"non-finite {name} at step {step} (value {value.detach().flatten()[:4].tolist()}"
                "...); lower the learning rate or check the env's rewards and observations"
            )


def check_parameters_finite(step: int, module: nn.Module, what: str = "parameter") -> None:
    """Raise NonFiniteError naming the first parameter of ``module`` holding NaN or inf."""
    for name, p in module.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise NonFiniteError(f"non-finite {what} {name!r} at step {step}")


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
