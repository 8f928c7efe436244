"""ROC AUC and PCA on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from agents.models import pca, roc_auc


@pytest.mark.parametrize(
    ("negative", "positive", "expected"),
    [
        ([0.1, 0.2], [0.3, 0.4], 1.0),  # perfect separation
        ([0.3, 0.4], [0.1, 0.2], 0.0),  # perfectly wrong
        ([0.5, 0.5], [0.5, 0.5], 0.5),  # all ties count one half
        ([0.1, 0.4], [0.35, 0.8], 0.75),  # scikit-learn's documented example
        ([1.0, 2.0, 3.0], [2.0], 0.5),  # one win, one tie, one loss: (1 + 0.5) / 3
    ],
)
def test_roc_auc_known_values(negative: list, positive: list, expected: float) -> None:
    assert roc_auc(np.array(negative), np.array(positive)) == pytest.approx(expected)


def test_roc_auc_equals_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    neg = rng.integers(0, 20, 300).astype(float)  # many ties
    pos = rng.integers(5, 25, 200).astype(float)
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert roc_auc(neg, pos) == pytest.approx(pairs.mean(), abs=1e-12)


def test_roc_auc_refuses_an_empty_class_or_nan() -> None:
    with pytest.raises(ValueError, match="at least one score of each class"):
        roc_auc(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc(np.array([np.nan]), np.array([1.0]))


def test_pca_of_points_on_a_line_finds_the_line() -> None:
    t = np.linspace(-1.0, 1.0, 21)
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    x = np.array([1.0, 2.0, 3.0]) + t[:, None] * direction
    result = pca(x, n_components=2)
    np.testing.assert_allclose(result.components[0], direction, atol=1e-12)
    np.testing.assert_allclose(result.explained_variance_ratio, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.projected[:, 0], t, atol=1e-12)
    np.testing.assert_allclose(result.transform(x), result.projected, atol=1e-12)


def test_pca_refuses_too_many_components() -> None:
    with pytest.raises(ValueError, match=r"n_components must be in \[1, 2\]"):
        pca(np.zeros((5, 2)), n_components=3)
