"""``.pt`` files of the torch perception models: the ``state_dict`` and the JSON config
that rebuilds the module, written atomically and read with ``weights_only=True``."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from agents.common.io import atomic_write

FORMAT_VERSION = 1


def save_module(path: str | Path, kind: str, config: Any, module: nn.Module) -> Path:
    """Write ``module``'s weights and its dataclass ``config`` to ``path`` as a ``kind``
    model (the name :func:`load_module_state` checks)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model": kind,
        "config": json.dumps(asdict(config)),
        "state": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def load_module_state(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config fields, state_dict) of a ``kind`` model saved by :func:`save_module`.

    ValueError, naming the file, when it is not such a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stored, version = payload["model"], payload["format_version"]
        config, state = json.loads(payload["config"]), payload["state"]
    except Exception as e:  # torch raises several types for a foreign or truncated file
        raise ValueError(f"{path} is not a palaestra perception-model checkpoint: {e}") from None
    if stored != kind:
        raise ValueError(f"{path} holds a {stored!r} model, not a {kind!r}")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {version}; this palaestra reads {FORMAT_VERSION}"
        )
    return config, state


_M = TypeVar("_M", bound="ConfiguredModule")


class ConfiguredModule(nn.Module):
    """A module built from one config dataclass (``cls(config)``), saved and loaded as a
    ``kind`` checkpoint: subclasses set :attr:`kind` and :attr:`config_class` and keep
    their config in ``self.config``."""

    kind: ClassVar[str]
    config_class: ClassVar[type]
    config: Any

    def save(self, path: str | Path) -> Path:
        """Write weights and config to ``path`` (``.pt``) atomically."""
        return save_module(path, self.kind, self.config, self)

    @classmethod
    def load(cls: type[_M], path: str | Path, device: str | torch.device = "cpu") -> _M:
        """Read a model written by :meth:`save`; it computes exactly as the saved one."""
        fields, state = load_module_state(path, cls.kind)
        model = cls(cls.config_class(**fields))
        model.load_state_dict(state)
        return model.to(device).eval()
