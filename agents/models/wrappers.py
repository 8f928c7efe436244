"""Gymnasium observation wrappers that put a perception model between an env and a learner.

They live here rather than in ``envs/`` because each one runs a model from
:mod:`agents.models`: the envs stay free of learners and of torch.

- :class:`PixelsToIndex`: a gridworld's ``rgb`` frames -> the state index a tabular agent
  reads, through a trained :class:`~agents.models.perception.CellCNN`;
- :class:`KMeansToIndex`: Box observations -> ``Discrete(K)`` cluster indices, through a
  fitted :class:`~agents.models.kmeans.KMeansAbstraction`;
- :class:`GaussianNoise`: Box observations plus Gaussian noise (noisy ``coords``, the
  k-means abstraction's test bed).

:data:`WRAPPERS` names them for configurations (the ``wrappers`` section of a training
config): each entry has a typed settings dataclass and, for the wrappers that read through
a model, how that model is trained from the env it wraps, saved and loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.torch_utils import torch_threads
from agents.models.data import enumerate_frames, gridworld, random_observations
from agents.models.kmeans import KMeansAbstraction, KMeansConfig
from agents.models.perception import CellCNN, CellCNNConfig, train_cell_cnn
from agents.models.training import FitConfig
from envs.gridworld.gridworld import GridWorldEnv

# Mixed into GaussianNoise's seed so its stream differs from the env's ("nois" in ASCII).
_NOISE_STREAM = 0x6E6F6973


class PixelsToIndex(gym.ObservationWrapper):
    """A gridworld seen in pixels, handed on as the ``index`` observation a tabular agent
    reads: ``Discrete(n_states)``, with the agent's cell predicted by ``model`` from each
    ``rgb`` frame.

    On maps with keys and doors the index also holds the item flags (key taken, door
    open); those are read from the env's state, not from the pixels, so on such maps only
    the position is perceived. Maps without keys and doors are perceived entirely.

    The env must use ``observation_mode="rgb"`` with ``obs_tile_size`` equal to the model's
    ``tile_size``. ``torch_threads`` bounds torch's CPU threads per prediction (one frame
    through a small network is fastest on one thread; None leaves torch's setting).
    ``memoize=True`` remembers the cell predicted for each distinct frame, so the model runs
    once per frame a gridworld can draw instead of once per step (exact while the model is
    not retrained; tabular learning from pixels then runs near the speed of ``index``).
    """

    def __init__(
        self,
        env: gym.Env,
        model: CellCNN,
        torch_threads: int | None = 1,
        memoize: bool = False,
    ) -> None:
        super().__init__(env)
        grid = gridworld(env)
        check_pixels(grid, model.config.tile_size)
        self.grid = grid
        self.model = model.eval()
        self.threads = torch_threads
        self.memo: dict[bytes, int] | None = {} if memoize else None
        self.observation_space = gym.spaces.Discrete(grid.n_states)

    def observation(self, observation: np.ndarray) -> int:
        row, col = divmod(self._position(observation), self.grid.layout.width)
        return self.grid.encode_state(row, col, self.grid.flags if self.grid.n_items else 0)

    def _position(self, frame: np.ndarray) -> int:
        """row * width + col of the agent's predicted cell."""
        if self.memo is None:
            return self._predict(frame)
        key = frame.tobytes()
        position = self.memo.get(key)
        if position is None:
            position = self.memo[key] = self._predict(frame)
        return position

    def _predict(self, frame: np.ndarray) -> int:
        with torch.inference_mode(), torch_threads(self.threads):
            x = torch.as_tensor(frame, device=self.model.device)[None]
            return int(self.model(x)[0, 0].flatten().argmax())


class KMeansToIndex(gym.ObservationWrapper):
    """Box observations mapped to ``Discrete(K)``: the index of the nearest k-means centre
    (a state abstraction for tabular learners)."""

    def __init__(self, env: gym.Env, abstraction: KMeansAbstraction) -> None:
        super().__init__(env)
        if not abstraction.fitted:
            raise ValueError("KMeansToIndex needs a fitted KMeansAbstraction; call fit first")
        space = check_box(env.observation_space, "KMeansToIndex maps")
        features = int(np.prod(space.shape))
        if features != abstraction.centers.shape[1]:
            raise ValueError(
                f"the env's observations have {features} features; the clusters were "
                f"fitted on {abstraction.centers.shape[1]}"
            )
        self.abstraction = abstraction
        self.observation_space = gym.spaces.Discrete(abstraction.n_clusters)

    def observation(self, observation: np.ndarray) -> int:
        return int(self.abstraction.predict(np.reshape(observation, (1, -1)))[0])


class GaussianNoise(gym.ObservationWrapper):
    """Box observations plus independent N(0, ``std``^2) noise per feature, as float32.

    The noise has its own random generator, reseeded by ``reset(seed=...)`` from the seed
    and a tag (so its stream is not a copy of the env's, which the same seed starts): the
    env's dynamics are the same with and without the wrapper.
    """

    def __init__(self, env: gym.Env, std: float) -> None:
        super().__init__(env)
        if not std >= 0:
            raise ValueError(f"GaussianNoise std must be >= 0, got {std}")
        space = check_box(env.observation_space, "GaussianNoise adds noise to")
        self.std = float(std)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, space.shape, np.float32)
        self.noise_rng = np.random.default_rng()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self.noise_rng = np.random.default_rng([seed, _NOISE_STREAM])
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float64)
        return (obs + self.noise_rng.normal(0.0, self.std, obs.shape)).astype(np.float32)


def check_pixels(grid: GridWorldEnv, tile_size: int) -> None:
    """ValueError unless ``grid`` draws ``rgb`` observations with ``tile_size``-pixel cells
    (what a CellCNN of that tile size reads)."""
    if grid.observation_mode != "rgb":
        raise ValueError(
            f"PixelsToIndex reads pixels: make the env with observation_mode='rgb', "
            f"not {grid.observation_mode!r}"
        )
    if grid.obs_tile_size != tile_size:
        raise ValueError(
            f"the env draws {grid.obs_tile_size}-pixel cells but the model reads "
            f"{tile_size}-pixel ones; make the env with obs_tile_size={tile_size}"
        )


def check_box(space: gym.Space, what: str) -> gym.spaces.Box:
    """``space`` when it is a Box; else ValueError "<what> Box observations, got ..."."""
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"{what} Box observations, got {space}")
    return space


# --------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class GaussianNoiseSettings:
    """Settings of ``gaussian_noise`` (:class:`GaussianNoise`)."""

    std: float = 0.05
    """Standard deviation of the noise added to every feature."""

    def __post_init__(self) -> None:
        if not 0 <= self.std < math.inf:
            raise ValueError(f"std must be a finite number >= 0, got {self.std}")


@dataclass(frozen=True)
class PixelsToIndexSettings:
    """Settings of ``pixels_to_index`` (:class:`PixelsToIndex`)."""

    model: str = ""
    """A :class:`~agents.models.perception.CellCNN` checkpoint (``.pt``) to read the frames
    with; empty: one is trained on every frame of the env's own map (labelled from its
    state, :func:`~agents.models.data.enumerate_frames`) when the run starts."""
    channels: int = 16
    """Features per cell of a CellCNN trained here (with ``model``: the model's own, which
    a value given here must equal)."""
    epochs: int = 100
    """Passes over the frames when training a CellCNN here (a map has a few dozen to a few
    hundred; 50 read every frame of the shipped maps for five seeds, 30 did not always).
    If the model then misreads any frame the run stops with an error: raise it."""
    memoize: bool = True
    """Remember the cell read from each distinct frame, so the model runs once per frame
    the map can show (exact for a fixed model; learning then runs near ``index`` speed)."""

    def __post_init__(self) -> None:
        _check_positive(self, "channels", "epochs")


@dataclass(frozen=True)
class KMeansToIndexSettings:
    """Settings of ``kmeans_to_index`` (:class:`KMeansToIndex`)."""

    model: str = ""
    """A :class:`~agents.models.kmeans.KMeansAbstraction` file (``.npz``) to map the
    observations with; empty: one is fitted when the run starts, on random-play
    observations of the env as wrapped so far (noise included)."""
    n_clusters: int = 16
    """K, the number of discrete states (with ``model``: the model's own K, which a value
    given here must equal)."""
    fit_steps: int = 5000
    """Random-play observations a k-means fitted here clusters (>= ``n_clusters``)."""
    n_init: int = 10
    """k-means++ starts of a fit here; the best (lowest inertia) is kept."""

    def __post_init__(self) -> None:
        _check_positive(self, "n_clusters", "fit_steps", "n_init")
        if self.fit_steps < self.n_clusters:
            raise ValueError(
                f"fit_steps={self.fit_steps} gives fewer observations than "
                f"n_clusters={self.n_clusters}"
            )


def _check_positive(settings: Any, *names: str) -> None:
    for name in names:
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(settings, name)}")


@dataclass(frozen=True)
class WrapperKind:
    """One named wrapper of :data:`WRAPPERS`: its settings and how it is put around an env;
    for a wrapper that reads through a model, also how the model is trained, saved, loaded
    and checked against the settings."""

    settings: type
    """The settings dataclass (its fields are the keys a configuration may give)."""
    wrap: Callable[[gym.Env, Any, Any], gym.Env]
    """``(env, settings, model) -> wrapped env`` (``model`` None for wrappers without one);
    ValueError when the wrapper cannot read ``env``'s observations."""
    model_file: str = ""
    """File name of a model trained for a run, in its run directory; "" for no model."""
    fit: Callable[[gym.Env, Any, int], Any] | None = None
    """``(env, settings, seed) -> model``: trained from ``env``, the env as wrapped so far;
    ValueError when ``env`` cannot be read."""
    load: Callable[[str], Any] | None = None
    """Reads a model saved with its ``save(path)`` method."""
    model_settings: Callable[[Any], dict[str, Any]] | None = None
    """The settings a loaded model fixes (``{"n_clusters": 32}``), so the configuration can
    be checked against them and record them."""

    @property
    def has_model(self) -> bool:
        return bool(self.model_file)


def _fit_cell_cnn(env: gym.Env, settings: PixelsToIndexSettings, seed: int) -> CellCNN:
    """A CellCNN trained on every reachable state of ``env``'s map, drawn as its ``rgb``
    observation; ValueError unless it then reads every one of those frames right."""
    grid = gridworld(env)
    check_pixels(grid, grid.obs_tile_size)
    data = enumerate_frames(grid)
    config = CellCNNConfig(tile_size=grid.obs_tile_size, channels=settings.channels)
    fit = FitConfig(epochs=settings.epochs, seed=seed, device="cpu")
    model, stats = train_cell_cnn(data, config, fit)
    if stats.train_accuracy.agent < 1.0:
        raise ValueError(
            f"the CellCNN trained for {settings.epochs} epochs reads the agent's cell right "
            f"in {stats.train_accuracy.agent:.1%} of the map's {len(data)} frames, not all; "
            f"raise epochs (or channels)"
        )
    return model


def _fit_kmeans(env: gym.Env, settings: KMeansToIndexSettings, seed: int) -> KMeansAbstraction:
    """k-means fitted on ``fit_steps`` random-play observations of ``env``."""
    check_box(env.observation_space, "KMeansToIndex maps")
    observations = random_observations(env, settings.fit_steps, seed=seed)
    config = KMeansConfig(n_clusters=settings.n_clusters, n_init=settings.n_init, seed=seed)
    abstraction = KMeansAbstraction(config)
    abstraction.fit(observations.reshape(settings.fit_steps, -1))
    return abstraction


WRAPPERS: dict[str, WrapperKind] = {
    "gaussian_noise": WrapperKind(
        settings=GaussianNoiseSettings,
        wrap=lambda env, s, _: GaussianNoise(env, s.std),
    ),
    "pixels_to_index": WrapperKind(
        settings=PixelsToIndexSettings,
        wrap=lambda env, s, model: PixelsToIndex(env, model, memoize=s.memoize),
        model_file="perception.pt",
        fit=_fit_cell_cnn,
        load=CellCNN.load,
        model_settings=lambda model: {"channels": model.config.channels},
    ),
    "kmeans_to_index": WrapperKind(
        settings=KMeansToIndexSettings,
        wrap=lambda env, _, model: KMeansToIndex(env, model),
        model_file="kmeans.npz",
        fit=_fit_kmeans,
        load=KMeansAbstraction.load,
        model_settings=lambda model: {"n_clusters": model.n_clusters},
    ),
}
"""Wrapper names a configuration can use, mapped to their :class:`WrapperKind`."""


@dataclass(frozen=True)
class EnvWrapper:
    """A wrapper of :data:`WRAPPERS` ready to put around envs: its name, its settings and,
    for one that reads through a model, the model. Calling it wraps an env (the form
    ``gymnasium.make_vec(wrappers=...)`` takes)."""

    name: str
    settings: Any
    model: Any = None

    @property
    def kind(self) -> WrapperKind:
        return WRAPPERS[self.name]

    def __call__(self, env: gym.Env) -> gym.Env:
        return self.kind.wrap(env, self.settings, self.model)

    def fitted(self, env: gym.Env, seed: int) -> EnvWrapper:
        """This wrapper with its model trained from ``env`` (the env it will wrap) when it
        needs one and has none; itself otherwise."""
        if self.model is not None or self.kind.fit is None:
            return self
        return EnvWrapper(self.name, self.settings, self.kind.fit(env, self.settings, seed))

    def save_model(self, path: str | Path) -> EnvWrapper:
        """Write the model to ``path``; this wrapper with ``model`` naming that file."""
        saved = self.model.save(path)
        return EnvWrapper(self.name, replace(self.settings, model=str(saved)), self.model)
