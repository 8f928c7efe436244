"""The run directory: its name, its files, and loading a finished run back.

Layout::

    runs/<env-name>_<agent>_s<seed>/
        config.yaml        resolved config (agent config with defaults filled in)
        perception.pt, kmeans.npz   models trained for the run's wrappers (if any)
        versions.json      python, palaestra, gymnasium, numpy, torch, platform
        metrics.csv        one row per training episode
        events.out.tfevents.*   TensorBoard scalars
        checkpoints/       last.<ext> (periodic and final) and step_<N>.<ext> (final)
        reward_curve.png   returns and rolling mean against steps
        eval.json          final greedy evaluation
        policy.gif         one greedy episode
"""

from __future__ import annotations

import dataclasses
import json
import platform
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from agents.base import Agent
from agents.common.io import atomic_write_text
from training.checkpoints import find_checkpoint
from training.config import (
    ConfigError,
    TrainConfig,
    config_to_yaml,
    load_config_file,
    lookup_agent,
    one_line,
)
from training.environments import make_env
from training.wrappers import build_wrappers, relocate_models

if TYPE_CHECKING:
    from agents.models.wrappers import EnvWrapper

CONFIG_FILE = "config.yaml"
VERSIONS_FILE = "versions.json"
EVAL_FILE = "eval.json"
CURVE_FILE = "reward_curve.png"
GIF_FILE = "policy.gif"
RUNS_ROOT = Path("runs")


def default_run_name(config: TrainConfig) -> str:
    """``<env-name>_<agent>_s<seed>``: the env id without its namespace, safe as a file name."""
    env_name = config.env.rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{env_name}_{config.agent}_s{config.seed}")


def check_out_dir(config: TrainConfig) -> None:
    """ConfigError when an explicit ``out`` would mix two runs in one directory."""
    if config.out is None:
        return
    out = Path(config.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"out={config.out!r} already exists and is not empty; choose another --out, "
            f"or continue that run with `palaestra train --resume {config.out}`"
        )


def create_run_dir(config: TrainConfig) -> Path:
    """Create the run directory: ``config.out``, or a fresh ``runs/<name>[-k]``."""
    if config.out is not None:
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        return out
    name = default_run_name(config)
    RUNS_ROOT.mkdir(parents=True, exist_ok=True)
    k = 0
    while True:
        candidate = RUNS_ROOT / (name if k == 0 else f"{name}-{k}")
        try:
            candidate.mkdir()  # atomic: two runs started together never share a directory
            return candidate
        except FileExistsError:
            k += 1


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_config(run_dir: Path, config: TrainConfig) -> Path:
    """Write ``config.yaml`` (atomically: resume rewrites it with the new step count)."""
    return atomic_write_text(run_dir / CONFIG_FILE, config_to_yaml(config))


def package_version(name: str) -> str | None:
    """Installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """The versions that decide whether a run can be reproduced elsewhere."""
    return {
        "python": sys.version.split()[0],
        "palaestra": package_version("palaestra"),
        "gymnasium": package_version("gymnasium"),
        "numpy": package_version("numpy"),
        "torch": package_version("torch"),
        "platform": platform.platform(),
    }


@dataclass
class LoadedRun:
    """A run directory read back: its config, the agent of its last checkpoint and the
    wrappers its envs get (models read from their files)."""

    run_dir: Path
    config: TrainConfig
    agent: Agent
    checkpoint: Path
    wrappers: list[EnvWrapper] = field(default_factory=list)

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """A fresh env as configured for this run."""
        return make_env(
            self.config.env, self.config.env_kwargs, render_mode, wrappers=self.wrappers
        )


def load_run(run_dir: str | Path) -> LoadedRun:
    """Read ``config.yaml`` and load the ``last`` checkpoint of a run directory.

    The config's ``out`` and the wrapper model files saved in the run directory are
    pointed at ``run_dir``, wherever the run was written from.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(f"not a run directory: {str(run_dir)!r} has no {CONFIG_FILE}")
    config = load_config_file(run_dir / CONFIG_FILE)
    config = dataclasses.replace(
        config,
        out=str(run_dir),
        wrappers=relocate_models(config.wrappers, config.out, run_dir),
    )
    wrappers = build_wrappers(config)
    agent_cls = lookup_agent(config.agent)
    checkpoint = find_checkpoint(run_dir)
    try:
        agent = agent_cls.load(checkpoint)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"cannot load checkpoint {str(checkpoint)!r}: {one_line(e)}") from e
    return LoadedRun(run_dir, config, agent, checkpoint, wrappers)
