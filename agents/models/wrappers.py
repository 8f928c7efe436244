"""Gymnasium observation wrappers that put a perception model between an env and a learner.

They live here rather than in ``envs/`` because each one runs a model from
:mod:`agents.models`: the envs stay free of learners and of torch.

- :class:`PixelsToIndex`: a gridworld's ``rgb`` frames -> the state index a tabular agent
  reads, through a trained :class:`~agents.models.perception.CellCNN`;
- :class:`KMeansToIndex`: Box observations -> ``Discrete(K)`` cluster indices, through a
  fitted :class:`~agents.models.kmeans.KMeansAbstraction`;
- :class:`GaussianNoise`: Box observations plus Gaussian noise (noisy ``coords``, the
  k-means abstraction's test bed).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.torch_utils import torch_threads
from agents.models.data import gridworld
from agents.models.kmeans import KMeansAbstraction
from agents.models.perception import CellCNN

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
        if grid.observation_mode != "rgb":
            raise ValueError(
                f"PixelsToIndex reads pixels: make the env with observation_mode='rgb', "
                f"not {grid.observation_mode!r}"
            )
        if grid.obs_tile_size != model.config.tile_size:
            raise ValueError(
                f"the env draws {grid.obs_tile_size}-pixel cells but the model reads "
                f"{model.config.tile_size}-pixel ones; make the env with "
                f"obs_tile_size={model.config.tile_size}"
            )
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
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"KMeansToIndex maps Box observations, got {space}")
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
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"GaussianNoise adds noise to Box observations, got {space}")
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
