"""Measures for perception models: ROC AUC of an anomaly score, and PCA of latent codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def roc_auc(negative_scores: np.ndarray, positive_scores: np.ndarray) -> float:
    """Area under the ROC curve of a score meant to be higher for positives (anomalies).

    Equal to the probability that a random positive scores above a random negative, ties
    counting one half (the Mann-Whitney U statistic over ``n_neg * n_pos``), computed from
    tie-averaged ranks in O(n log n).
    """
    neg = np.asarray(negative_scores, dtype=np.float64).ravel()
    pos = np.asarray(positive_scores, dtype=np.float64).ravel()
    if not len(neg) or not len(pos):
        raise ValueError(
            f"roc_auc needs at least one score of each class, got {len(neg)} negative "
            f"and {len(pos)} positive"
        )
    scores = np.concatenate([neg, pos])
    if not np.isfinite(scores).all():
        raise ValueError("roc_auc got NaN or infinite scores")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Rank of each distinct value (1-based), averaged over its ties.
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    pos_rank_sum = average_rank[inverse[len(neg) :]].sum()
    u = pos_rank_sum - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


@dataclass(frozen=True)
class PCAResult:
    """A linear projection onto the directions of largest variance."""

    projected: np.ndarray
    """(N, k) coordinates of each input row on the components."""
    components: np.ndarray
    """(k, D) unit directions, largest variance first."""
    mean: np.ndarray
    """(D,) mean subtracted before projecting."""
    explained_variance_ratio: np.ndarray
    """(k,) share of the total variance along each component."""

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project new rows (N, D) with the same mean and components."""
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T


def pca(x: np.ndarray, n_components: int = 2) -> PCAResult:
    """Principal components of the rows of ``x`` (N, D), by SVD of the centred data.

    Each component's sign is fixed so its largest-magnitude entry is positive, so the same
    data always gives the same picture.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"pca needs a 2-d array of at least 2 rows, got shape {x.shape}")
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"n_components must be in [1, {min(x.shape)}] for data of shape {x.shape}, "
            f"got {n_components}"
        )
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    components = vt[:n_components]
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    variance = singular**2
    total = variance.sum()
    ratio = variance[:n_components] / total if total > 0 else np.zeros(n_components)
    return PCAResult((x - mean) @ components.T, components, mean, ratio)
