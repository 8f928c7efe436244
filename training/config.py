"""The training configuration: defaults, YAML files, ``--set key=value`` overrides, validation.

Everything a run needs is checked here, before the run directory exists, so a typo on the
command line costs one clear error line and leaves nothing behind. Strings from the command
line are coerced to the type the dataclass field declares; agent settings are checked against
the agent's own config dataclass (``agent_cls.config_class``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml


class ConfigError(ValueError):
    """A bad configuration, found before anything was written. The message is one line."""


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved resolved as ``config.yaml``."""

    env: str = "palaestra/GridWorld-v0"
    """Gymnasium env id (``palaestra/...`` ids or any registered id such as FrozenLake-v1)."""

    agent: str = "q_learning"
    """Agent name from ``agents.registry`` (``palaestra list`` shows them)."""

    steps: int = 40_000
    """Environment steps to train for (total, counted across resumes)."""

    seed: int = 0
    """Seeds python, numpy, torch and the env, so a run can be repeated exactly on CPU."""

    out: str | None = None
    """Run directory; default ``runs/<env-name>_<agent>_s<seed>`` (made unique with -1, -2...)."""

    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make`` (``--set env.observation_mode=grid``); for an
    Atari id, the fields of ``envs.atari.AtariSettings`` (``--set env.noop_max=0``)."""

    agent_config: dict[str, Any] = field(default_factory=dict)
    """Fields of the agent's config dataclass (``--set agent.alpha=0.5``); defaults filled in."""

    eval_episodes: int = 100
    """Greedy episodes played after training for ``eval.json``."""

    checkpoint_every: int = 5_000
    """Steps between checkpoints (0: only the final one)."""

    device: str = "auto"
    """Torch device for deep and SB3 agents: auto (CUDA when available), cpu, cuda, cuda:N."""

    wrappers: list[dict[str, Any]] = field(default_factory=list)
    """Observation wrappers between the env and the agent, outermost last, each
    ``{name: <wrapper>, <setting>: <value>, ...}`` with a name of
    ``agents.models.wrappers.WRAPPERS`` (``--set wrappers='[{name: gaussian_noise, std:
    0.05}, {name: kmeans_to_index, n_clusters: 16}]'``). Every env of the run gets them:
    training, evaluation, GIF, ``eval``, ``watch`` and ``resume``. A wrapper that reads
    through a model and names no ``model`` file trains one when the run starts and saves
    it in the run directory; the saved config then names that file."""


# ``--set`` prefixes that address a dictionary section instead of a top-level field.
SECTIONS: dict[str, str] = {
    "env": "env_kwargs",
    "env_kwargs": "env_kwargs",
    "agent": "agent_config",
    "agent_config": "agent_config",
}

# The forms agents.common.torch_utils.resolve_device accepts; whether the device exists is
# checked for agents that use one (check_device_available).
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_NULLS = ("null", "none", "~", "")


def config_fields() -> list[str]:
    """Top-level keys of a config file, in declaration order."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def section_keys() -> list[str]:
    """Dotted forms accepted by ``--set``, as listed in errors (their long aliases also work)."""
    return ["agent.KEY", "env.KEY"]


def parse_assignment(text: str) -> tuple[str, str]:
    """Split one ``--set key=value`` argument."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {text!r}")
    return key.strip(), value


def parse_scalar(text: str) -> Any:
    """A command-line string read as a YAML scalar (``0.5``, ``true``, ``[a, b]``, ``grid``)."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def type_name(tp: Any) -> str:
    """A readable name for a type annotation, used in error messages."""
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def coerce(key: str, value: Any, tp: Any) -> Any:
    """``value`` (a command-line string or an already-typed value) as annotation ``tp``.

    Raises ConfigError naming the key, the value and the expected type.
    """
    try:
        return _coerce(value, tp)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r}: expected {type_name(tp)}") from None


def _coerce(value: Any, tp: Any) -> Any:
    if tp is Any or tp is object:
        return parse_scalar(value) if isinstance(value, str) else value
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _coerce_union(value, get_args(tp))
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        raise ValueError(f"not one of {choices}")
    if tp is type(None):
        if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
            return None
        raise ValueError("expected null")
    if tp is bool:
        return _coerce_bool(value)
    if tp is int:
        if isinstance(value, bool):
            raise TypeError("bool is not int")
        if isinstance(value, str):
            return int(value.strip())
        if isinstance(value, int):
            return value
        raise TypeError("not an int")
    if tp is float:
        if isinstance(value, bool):
            raise TypeError("bool is not float")
        if isinstance(value, str):
            return float(value.strip())
        if isinstance(value, (int, float)):
            return float(value)
        raise TypeError("not a float")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError("not a str")
    container = origin or tp
    if container in (list, tuple, dict):
        return _coerce_container(value, container, get_args(tp))
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    # An annotation this function does not know: accept the YAML reading of the string.
    return parse_scalar(value) if isinstance(value, str) else value


def _coerce_union(value: Any, args: tuple[Any, ...]) -> Any:
    if type(None) in args and (
        value is None or (isinstance(value, str) and value.strip().lower() in _NULLS)
    ):
        return None
    # Exact type matches first, so 3 stays an int in ``int | float``.
    for arg in args:
        if isinstance(arg, type) and type(value) is arg:
            return value
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(value, arg)
        except (TypeError, ValueError):
            continue
    raise ValueError("no union member matched")


def _coerce_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
    raise ValueError("not a bool")


def _coerce_container(value: Any, container: type, args: tuple[Any, ...]) -> Any:
    if isinstance(value, str):
        value = parse_scalar(value)
    if container is dict:
        if not isinstance(value, dict):
            raise TypeError("not a mapping")
        return dict(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError("not a sequence")
    if container is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple(_coerce(v, args[0]) for v in value)
    if container is tuple and args:
        if len(args) != len(value):
            raise ValueError("wrong length")
        return tuple(_coerce(v, a) for v, a in zip(value, args, strict=True))
    items = [_coerce(v, args[0]) for v in value] if args else list(value)
    return tuple(items) if container is tuple else items


def unknown_key(key: str, valid: list[str], where: str) -> ConfigError:
    """The error for a key that does not exist, listing the valid ones."""
    hint = difflib.get_close_matches(key, valid, n=1)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    return ConfigError(f"unknown {where} key {key!r}{did_you_mean}; valid keys: {', '.join(valid)}")


def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields (string annotations included)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


def set_key(config: TrainConfig, key: str, value: Any) -> None:
    """Apply one override. ``value`` may be a command-line string or a typed value.

    Top-level fields are coerced at once; ``agent.*`` values are kept raw until the agent
    is known (a later override may change it) and checked by :func:`resolve_agent_config`;
    ``env.*`` strings are read as YAML scalars since env kwargs carry no declared types here.
    """
    prefix, dot, name = key.partition(".")
    if dot:
        if prefix not in SECTIONS or not name:
            raise unknown_key(key, config_fields() + section_keys(), "config")
        section = SECTIONS[prefix]
        if section == "env_kwargs" and isinstance(value, str):
            value = parse_scalar(value)
        getattr(config, section)[name] = value
        return
    types_ = field_types(TrainConfig)
    if key not in types_:
        raise unknown_key(key, config_fields() + section_keys(), "config")
    setattr(config, key, coerce(key, value, types_[key]))


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """A copy of ``config`` with ``overrides`` (``{"steps": "5000", "agent.alpha": 0.5}``)."""
    config = dataclasses.replace(
        config,
        env_kwargs=dict(config.env_kwargs),
        agent_config=dict(config.agent_config),
        wrappers=[dict(spec) for spec in config.wrappers],
    )
    for key, value in overrides.items():
        set_key(config, key, value)
    return config


def config_from_dict(data: Mapping[str, Any], source: str = "config") -> TrainConfig:
    """A TrainConfig from a parsed YAML mapping; unknown keys and bad types are errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of config keys, got {type(data).__name__}")
    return apply_overrides(TrainConfig(), {str(k): v for k, v in data.items()})


def load_config_file(path: str | Path) -> TrainConfig:
    """Read a YAML config file (the same keys as ``config.yaml`` in a run directory)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        first = " ".join(str(e).split())
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {first}") from None
    return config_from_dict(data or {}, source=str(path))


def validate_scalars(config: TrainConfig) -> None:
    """Range checks of the top-level fields (types were checked when they were set)."""
    types_ = field_types(TrainConfig)
    for key in config_fields():
        coerce(key, getattr(config, key), types_[key])
    checks = [
        ("steps", config.steps >= 1, "an int >= 1"),
        ("seed", config.seed >= 0, "an int >= 0"),
        ("eval_episodes", config.eval_episodes >= 1, "an int >= 1"),
        ("checkpoint_every", config.checkpoint_every >= 0, "an int >= 0 (0: final only)"),
        ("device", bool(_DEVICE.match(config.device)), "auto, cpu, cuda or cuda:N"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{key}={getattr(config, key)!r}: expected {expected}")


def resolve_agent_config(agent_cls: type, values: Mapping[str, Any], device: str) -> Any:
    """The agent's config dataclass built from ``values``; unknown keys and bad types fail.

    A ``device`` field the user left unset follows the run's ``device``; either way the
    device must exist on this machine.
    """
    config_cls = agent_cls.config_class
    where = f"agent {agent_cls.name!r} config"
    kwargs = coerced_fields(config_cls, values, where, "agent.")
    if "device" in field_types(config_cls):
        key = "agent.device" if "device" in kwargs else "device"
        kwargs.setdefault("device", device)
        check_device_available(key, kwargs["device"])
    return build_dataclass(config_cls, kwargs, where)


def coerced_fields(
    cls: type, values: Mapping[str, Any], where: str, prefix: str = ""
) -> dict[str, Any]:
    """``values`` coerced to the field types of dataclass ``cls``; an unknown key is a
    ConfigError listing the valid ones (``where`` names the section, ``prefix`` goes before
    a key in a type error: ``agent.alpha='fast': expected float``)."""
    types_ = field_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types_:
            raise unknown_key(str(key), list(types_), where)
        kwargs[key] = coerce(f"{prefix}{key}", value, types_[key])
    return kwargs


def build_dataclass(cls: type, kwargs: Mapping[str, Any], where: str) -> Any:
    """``cls(**kwargs)``; the range checks of its ``__post_init__`` become a ConfigError."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {one_line(e)}") from None


def check_device_available(key: str, device: str) -> None:
    """ConfigError when ``device`` is unknown or absent here (``cuda`` without CUDA).

    Checked before the run starts because torch would only fail at the first tensor moved
    there, after the run directory exists, and SB3 silently falls back to the CPU.
    """
    from agents.common.torch_utils import resolve_device  # torch only for agents with a device

    try:
        resolve_device(device)
    except ValueError as e:
        raise ConfigError(f"{key}={device!r}: {one_line(e)}; use auto or cpu") from None


def plain(value: Any) -> Any:
    """``value`` with tuples, numpy scalars and dataclasses turned into YAML-safe builtins."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def config_to_yaml(config: TrainConfig) -> str:
    """The YAML text of ``config`` (round-trips through :func:`config_from_dict`)."""
    return yaml.safe_dump(plain(config), sort_keys=False, default_flow_style=False)


def one_line(error: BaseException) -> str:
    """An exception message squeezed onto one line (CLI errors are one line)."""
    return " ".join(str(error).split()) or type(error).__name__


def lookup_agent(name: str) -> type:
    """The agent class registered as ``name``; ConfigError listing the valid names."""
    from agents.registry import agent_class

    try:
        return agent_class(name)
    except ValueError as e:
        raise ConfigError(one_line(e)) from None
    except ImportError as e:
        raise ConfigError(f"agent {name!r} is registered but cannot be imported: {e}") from None
