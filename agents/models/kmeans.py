"""KMeansAbstraction: continuous observations clustered into K discrete states, so a tabular
learner can work on CartPole or on noisy gridworld coordinates."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agents.common.io import atomic_write

KIND = "kmeans_abstraction"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class KMeansConfig:
    """k-means settings (Lloyd's algorithm from k-means++ starts, best of several)."""

    n_clusters: int = 16
    """K, the number of discrete states observations are mapped to."""
    n_init: int = 10
    """Independent k-means++ starts; the run with the lowest inertia (sum of squared
    distances to the nearest centre) is kept."""
    max_iter: int = 300
    """Lloyd iterations per start at most."""
    tol: float = 1e-9
    """A start stops once no centre moves by more than this (in standardised units)."""
    standardize: bool = True
    """Scale each feature to zero mean and unit variance before clustering, so features of
    different units (CartPole's position and angular velocity) weigh alike."""
    seed: int = 0
    """Seeds the k-means++ starts, so a fit repeats exactly."""

    def __post_init__(self) -> None:
        for name in ("n_clusters", "n_init", "max_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"KMeansConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.tol >= 0:
            raise ValueError(f"KMeansConfig.tol must be >= 0, got {self.tol}")


@dataclass(frozen=True)
class KMeansStats:
    """Report of :meth:`KMeansAbstraction.fit`."""

    inertia: float
    """Sum of squared (standardised) distances of the points to their centres, best start."""
    iterations: int
    """Lloyd iterations of the best start."""
    converged: bool
    """Whether the best start stopped on ``tol`` rather than ``max_iter``."""


class KMeansAbstraction:
    """Maps an observation vector to the index of its nearest of K centres.

    ``fit`` learns the centres (and the standardisation) from sample observations;
    ``predict`` maps one observation (D,) to an int, or a batch (N, D) to an (N,) array.
    Saved as ``.npz`` like the tabular agents.
    """

    def __init__(self, config: KMeansConfig | None = None) -> None:
        self.config = config if config is not None else KMeansConfig()
        self.centers: np.ndarray | None = None  # (K, D), standardised units
        self.mean: np.ndarray | None = None  # (D,)
        self.scale: np.ndarray | None = None  # (D,)

    @property
    def n_clusters(self) -> int:
        return self.config.n_clusters

    @property
    def fitted(self) -> bool:
        return self.centers is not None

    def fit(self, observations: np.ndarray) -> KMeansStats:
        """Cluster (N, D) observations (or (N,) scalars) into ``n_clusters`` groups."""
        x = self._as_rows(observations, "fit")
        cfg = self.config
        if len(x) < cfg.n_clusters:
            raise ValueError(
                f"k-means with n_clusters={cfg.n_clusters} needs at least that many "
                f"observations, got {len(x)}"
            )
        self.mean = x.mean(axis=0) if cfg.standardize else np.zeros(x.shape[1])
        std = x.std(axis=0) if cfg.standardize else np.ones(x.shape[1])
        self.scale = np.where(std > 0, std, 1.0)  # a constant feature stays as it is
        z = (x - self.mean) / self.scale
        rng = np.random.default_rng(cfg.seed)
        best: tuple[float, np.ndarray, int, bool] | None = None
        for _ in range(cfg.n_init):
            start = _kmeans_plus_plus(z, cfg.n_clusters, rng)
            centers, iterations, converged = _lloyd(z, start, cfg)
            inertia = float(_squared_distances(z, centers).min(axis=1).sum())
            if best is None or inertia < best[0]:
                best = (inertia, centers, iterations, converged)
        inertia, self.centers, iterations, converged = best
        return KMeansStats(inertia, iterations, converged)

    def predict(self, observations: np.ndarray) -> np.ndarray | int:
        """Index of the nearest centre: an int for one observation (D,), an (N,) int64
        array for a batch (N, D)."""
        if self.centers is None:
            raise ValueError("KMeansAbstraction is not fitted; call fit(observations) first")
        obs = np.asarray(observations, dtype=np.float64)
        single = obs.ndim == 0 or (obs.ndim == 1 and self.centers.shape[1] > 1)
        x = self._as_rows(obs.reshape(1, -1) if single else obs, "predict")
        if x.shape[1] != self.centers.shape[1]:
            raise ValueError(
                f"observations have {x.shape[1]} features; the clusters were fitted on "
                f"{self.centers.shape[1]}"
            )
        labels = _squared_distances((x - self.mean) / self.scale, self.centers).argmin(axis=1)
        return int(labels[0]) if single else labels.astype(np.int64)

    def cluster_centers(self) -> np.ndarray:
        """(K, D) centres in the observations' own units."""
        if self.centers is None:
            raise ValueError("KMeansAbstraction is not fitted; call fit(observations) first")
        return self.centers * self.scale + self.mean

    @staticmethod
    def _as_rows(observations: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(observations, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"{what} takes (N, D) observations, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{what} got NaN or infinite observations")
        return x

    def save(self, path: str | Path) -> Path:
        """Write config, centres and standardisation to ``path`` (``.npz``) atomically."""
        if self.centers is None:
            raise ValueError("cannot save an unfitted KMeansAbstraction; call fit first")
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "model": np.array(KIND),
            "config": np.array(json.dumps(asdict(self.config))),
            "centers": self.centers,
            "mean": self.mean,
            "scale": self.scale,
        }
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> KMeansAbstraction:
        """Read an abstraction written by :meth:`save`; it predicts exactly as the saved one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            stored, version = str(arrays["model"]), int(arrays["format_version"])
            config = KMeansConfig(**json.loads(str(arrays["config"])))
            centers, mean, scale = arrays["centers"], arrays["mean"], arrays["scale"]
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a palaestra k-means file: {e}") from None
        if stored != KIND:
            raise ValueError(f"{path} holds a {stored!r} model, not a {KIND!r}")
        if version != FORMAT_VERSION:
            raise ValueError(f"{path} has format {version}; this palaestra reads {FORMAT_VERSION}")
        if centers.shape[0] != config.n_clusters:
            raise ValueError(
                f"{path} is corrupt: {centers.shape[0]} centres for n_clusters={config.n_clusters}"
            )
        model = cls(config)
        model.centers, model.mean, model.scale = centers, mean, scale
        return model


def _squared_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(N, K) squared Euclidean distances, never negative despite rounding."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ centers.T + (centers * centers).sum(1)[None, :]
    return np.maximum(d, 0.0)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (Arthur & Vassilvitskii 2007; the greedy form scikit-learn uses):
    each next centre is the best, by the sum of squared distances it leaves, of
    ``2 + log k`` candidates drawn with probability proportional to the squared distance
    to the nearest centre so far. Plain k-means++ draws one candidate, and with many
    small clusters it often puts two centres in one of them (seen: 2 of 104 cells merged
    on FourRooms); the greedy choice rarely does."""
    trials = 2 + int(np.log(k))
    centers = [x[rng.integers(len(x))]]
    nearest = _squared_distances(x, centers[0][None]).ravel()
    for _ in range(1, k):
        total = nearest.sum()
        if total <= 0:  # every point sits on a centre (fewer distinct points than k)
            centers.append(x[rng.integers(len(x))])
            continue
        candidates = rng.choice(len(x), size=trials, p=nearest / total)
        options = np.minimum(nearest[None, :], _squared_distances(x, x[candidates]).T)
        best = int(options.sum(axis=1).argmin())
        centers.append(x[candidates[best]])
        nearest = options[best]
    return np.array(centers)


def _lloyd(x: np.ndarray, centers: np.ndarray, cfg: KMeansConfig) -> tuple[np.ndarray, int, bool]:
    """Alternate assignment and mean steps until no centre moves more than ``tol``. A
    centre left without points jumps to the point farthest from its own centre."""
    k = len(centers)
    for iteration in range(1, cfg.max_iter + 1):
        distances = _squared_distances(x, centers)
        labels = distances.argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, x)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centers)
        for j in np.flatnonzero(counts == 0):
            far = distances[np.arange(len(x)), labels].argmax()
            new[j] = x[far]
            distances[far] = 0.0  # not chosen again for another empty cluster
        shift = float(np.abs(new - centers).max())
        centers = new
        if shift <= cfg.tol:
            return centers, iteration, True
    return centers, cfg.max_iter, False
