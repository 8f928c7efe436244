"""The ``wrappers`` section of a training config: observation wrappers between the env and
the agent, built once per run and put around every env the run makes.

A spec is ``{name: <wrapper>, <setting>: <value>, ...}`` with a name of
:data:`agents.models.wrappers.WRAPPERS` and settings of its typed dataclass, so a typo is a
ConfigError listing the valid names or keys. Building a run's wrappers (:func:`build_wrappers`)
checks every spec, loads the model files they name, then goes through them in order on one
env: a wrapper that reads through a model and names none trains it from the env as wrapped
so far (k-means after noise clusters noisy observations). All of that happens in memory,
while the run is being prepared: a configuration that cannot work writes nothing.

Once the run directory exists, :func:`save_models` writes the models trained for the run
into it (``perception.pt``, ``kmeans.npz``) and the specs recorded in ``config.yaml`` name
those files, so ``palaestra eval``, ``watch`` and ``resume`` rebuild the same wrappers from
the files without training again. The torch-backed registry is imported only by runs that
have wrappers.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import (
    ConfigError,
    TrainConfig,
    build_dataclass,
    coerced_fields,
    one_line,
    plain,
)
from training.environments import is_multiagent, make_env

if TYPE_CHECKING:
    from agents.models.wrappers import EnvWrapper, WrapperKind

NAME_KEY = "name"
MODEL_KEY = "model"


def build_wrappers(config: TrainConfig) -> list[EnvWrapper]:
    """The wrappers ``config.wrappers`` asks for, each with its model loaded from the file
    it names or trained from the env (seeded with ``config.seed``); ConfigError (one line,
    naming the wrapper) for an unknown name or setting, a missing or foreign model file,
    or a wrapper that cannot read the observations it would get."""
    if not config.wrappers:
        return []
    if is_multiagent(config.env):
        raise ConfigError(
            f"wrappers: {config.env!r} is a multi-agent env; observation wrappers apply to "
            f"single-agent (Gymnasium) envs"
        )
    parsed = [_parse(i, spec) for i, spec in enumerate(config.wrappers)]
    wrappers = [_with_loaded_model(i, wrapper, given) for i, (wrapper, given) in enumerate(parsed)]
    env = make_env(config.env, config.env_kwargs)
    built = []
    try:
        for i, wrapper in enumerate(wrappers):
            try:
                wrapper = wrapper.fitted(env, config.seed)
                env = wrapper(env)
            except ValueError as e:
                where = _where(i, wrapper.name)
                raise ConfigError(f"{where} on {config.env!r}: {one_line(e)}") from None
            built.append(wrapper)
    finally:
        env.close()
    return built


def wrapper_specs(wrappers: Sequence[EnvWrapper]) -> list[dict[str, Any]]:
    """The specs of built wrappers as ``config.yaml`` records them: the name and every
    setting, defaults filled in."""
    return [{NAME_KEY: w.name, **plain(w.settings)} for w in wrappers]


def save_models(run_dir: Path, wrappers: Sequence[EnvWrapper]) -> list[EnvWrapper]:
    """Write each model trained for the run (one that names no file) into ``run_dir``,
    atomically; the wrappers with ``model`` naming the files. Models loaded from a file
    are not copied."""
    saved = []
    used: set[str] = set()
    for i, wrapper in enumerate(wrappers):
        kind = wrapper.kind
        if kind.has_model and not getattr(wrapper.settings, MODEL_KEY):
            name = kind.model_file
            if name in used:  # a second wrapper of the same kind: keep both files
                stem, dot, suffix = name.partition(".")
                name = f"{stem}-{i}{dot}{suffix}"
            used.add(name)
            wrapper = wrapper.save_model(run_dir / name)
        saved.append(wrapper)
    return saved


def relocate_models(
    specs: Sequence[Mapping[str, Any]], recorded_dir: str | None, run_dir: Path
) -> list[dict[str, Any]]:
    """``specs`` with the model files that were saved in a run directory recorded as
    ``recorded_dir`` (the config's ``out``) found in ``run_dir`` instead: a run directory
    can be moved, or read from another working directory, and still finds its models."""
    if recorded_dir is None:
        return [dict(spec) for spec in specs]
    relocated = []
    for spec in specs:
        spec = dict(spec)
        model = spec.get(MODEL_KEY)
        if isinstance(model, str) and model and Path(model).parent == Path(recorded_dir):
            spec[MODEL_KEY] = str(run_dir / Path(model).name)
        relocated.append(spec)
    return relocated


def _where(index: int, name: Any = None) -> str:
    return f"wrappers[{index}]" + (f" ({name})" if name is not None else "")


def _parse(index: int, spec: Any) -> tuple[EnvWrapper, set[str]]:
    """A wrapper without its model yet, and the setting keys the spec gave."""
    from agents.models.wrappers import WRAPPERS, EnvWrapper

    if not isinstance(spec, Mapping) or NAME_KEY not in spec:
        raise ConfigError(
            f"{_where(index)}: expected a mapping with a name, such as "
            f"{{name: gaussian_noise, std: 0.05}}; got {spec!r}"
        )
    name = spec[NAME_KEY]
    if name not in WRAPPERS:
        hint = difflib.get_close_matches(str(name), list(WRAPPERS), n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(
            f"{_where(index)}: unknown wrapper {name!r}{did_you_mean}; valid wrappers: "
            f"{', '.join(WRAPPERS)}"
        )
    settings_cls = WRAPPERS[name].settings
    where = _where(index, name)
    values = {k: v for k, v in spec.items() if k != NAME_KEY}
    kwargs = coerced_fields(settings_cls, values, f"{where} setting", f"{where} ")
    return EnvWrapper(name, build_dataclass(settings_cls, kwargs, where)), set(kwargs)


def _with_loaded_model(index: int, wrapper: EnvWrapper, given: set[str]) -> EnvWrapper:
    """``wrapper`` with the model its ``model`` setting names, and the settings that model
    fixes filled in; a setting given in the spec must agree with the model."""
    kind: WrapperKind = wrapper.kind
    path = getattr(wrapper.settings, MODEL_KEY, "") if kind.has_model else ""
    if not path:
        return wrapper
    where = _where(index, wrapper.name)
    try:
        model = kind.load(path)
    except FileNotFoundError:
        raise ConfigError(f"{where}: model file {path!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{where}: cannot load model {path!r}: {one_line(e)}") from None
    fixed = kind.model_settings(model) if kind.model_settings else {}
    for key, value in fixed.items():
        if key in given and getattr(wrapper.settings, key) != value:
            raise ConfigError(
                f"{where}: {key}={getattr(wrapper.settings, key)!r} but the model in {path!r} "
                f"has {key}={value!r}; give {value!r} or leave {key} out"
            )
    settings = dataclasses.replace(wrapper.settings, **fixed)
    return dataclasses.replace(wrapper, settings=settings, model=model)
