"""KMeansAbstraction: exact clusters on a hand case and on noisy gridworld coordinates, and
tabular Q-learning through it reaching the optimum of the ``index`` observation."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the palaestra ids)
from agents.evaluation import run_episode
from agents.models import (
    GaussianNoise,
    KMeansAbstraction,
    KMeansConfig,
    KMeansToIndex,
    placeable_states,
    random_observations,
)
from agents.tabular import QLearning, ValueIteration, ValueIterationConfig

NOISE = 0.05
"""Noise std in cells: 10 std from the half-cell boundary, so no sample lands nearer
another cell (p ~ 1e-23 per draw)."""


def test_two_obvious_clusters_have_their_exact_means_and_inertia() -> None:
    x = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]])
    km = KMeansAbstraction(KMeansConfig(n_clusters=2, standardize=False))
    stats = km.fit(x)
    assert stats.converged
    assert stats.inertia == pytest.approx(4 * 0.25)
    centers = km.cluster_centers()
    order = np.argsort(centers[:, 0])
    np.testing.assert_allclose(centers[order], [[0.0, 0.5], [10.0, 10.5]])
    labels = km.predict(x)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert km.predict(np.array([9.0, 9.0])) == labels[2]  # one observation gives an int


def noisy_cell_samples(env: gym.Env, per_cell: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples (N, 2), true position index (N,)) of every non-wall cell plus noise."""
    grid = env.unwrapped
    cells = np.array([grid.decode_state(s)[:2] for s in placeable_states(grid)])
    true = np.repeat(np.arange(len(cells)), per_cell)
    rng = np.random.default_rng(seed)
    return cells[true] + rng.normal(0.0, NOISE, (len(true), 2)), true


def test_with_one_cluster_per_cell_the_clusters_are_the_cells() -> None:
    env = gym.make("palaestra/FourRooms-v0", observation_mode="coords")
    samples, true = noisy_cell_samples(env, per_cell=10, seed=0)
    n_cells = true.max() + 1  # 104 floor cells
    km = KMeansAbstraction(KMeansConfig(n_clusters=n_cells, n_init=3, seed=0))
    km.fit(samples)
    labels = km.predict(samples)
    # A bijection: each cell's samples share one cluster and no two cells share one.
    assert all(len(set(labels[true == c])) == 1 for c in range(n_cells))
    assert len({labels[true == c][0] for c in range(n_cells)}) == n_cells
    # Fresh noise falls into the same clusters.
    fresh, fresh_true = noisy_cell_samples(env, per_cell=3, seed=1)
    cluster_of_cell = {c: labels[true == c][0] for c in range(n_cells)}
    assert km.predict(fresh).tolist() == [cluster_of_cell[c] for c in fresh_true]


def test_q_learning_on_noisy_coordinates_through_k_means_reaches_the_optimum() -> None:
    index_env = gym.make("palaestra/GridWorld-v0")
    planner = ValueIteration(
        index_env.observation_space, index_env.action_space, ValueIterationConfig(gamma=0.99)
    )
    planner.learn(index_env, total_steps=0)
    optimum = run_episode(planner, index_env)

    noisy = GaussianNoise(gym.make("palaestra/GridWorld-v0", observation_mode="coords"), NOISE)
    samples = random_observations(noisy, 3_000, seed=0)
    n_cells = len({tuple(np.round(s).astype(int)) for s in samples})
    km = KMeansAbstraction(KMeansConfig(n_clusters=n_cells, n_init=3, seed=0))
    km.fit(samples)
    env = KMeansToIndex(noisy, km)
    assert env.observation_space == gym.spaces.Discrete(n_cells)
    agent = QLearning(env.observation_space, env.action_space, seed=0)
    agent.learn(env, total_steps=30_000)
    learned = run_episode(agent, env, seed=5)
    assert learned.episode_return == pytest.approx(optimum.episode_return)
    assert learned.length == optimum.length


def test_a_loaded_abstraction_predicts_identically(tmp_path: Path) -> None:
    obs = random_observations(gym.make("CartPole-v1"), 500, seed=0)
    km = KMeansAbstraction(KMeansConfig(n_clusters=8, n_init=2))
    km.fit(obs)
    loaded = KMeansAbstraction.load(km.save(tmp_path / "kmeans.npz"))
    assert loaded.config == km.config
    np.testing.assert_array_equal(loaded.predict(obs), km.predict(obs))
    env = KMeansToIndex(gym.make("CartPole-v1"), loaded)
    first, _ = env.reset(seed=0)
    assert env.observation_space == gym.spaces.Discrete(8) and 0 <= first < 8


def test_misuse_is_refused_with_the_reason(tmp_path: Path) -> None:
    km = KMeansAbstraction(KMeansConfig(n_clusters=4))
    with pytest.raises(ValueError, match="not fitted"):
        km.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="needs a fitted"):
        KMeansToIndex(gym.make("CartPole-v1"), km)
    with pytest.raises(ValueError, match="at least that many observations"):
        km.fit(np.zeros((3, 2)))
    km.fit(np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValueError, match="have 4 features; the clusters were fitted on 2"):
        KMeansToIndex(gym.make("CartPole-v1"), km)
    with pytest.raises(ValueError, match="n_clusters must be >= 1"):
        KMeansConfig(n_clusters=0)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a palaestra k-means file"):
        KMeansAbstraction.load(bad)


def test_gaussian_noise_is_seeded_separately_and_leaves_the_dynamics_alone() -> None:
    base = gym.make("palaestra/GridWorld-v0", observation_mode="coords")
    noisy = GaussianNoise(gym.make("palaestra/GridWorld-v0", observation_mode="coords"), 0.5)
    exact, _ = base.reset(seed=3)
    first, _ = noisy.reset(seed=3)
    assert noisy.reset(seed=3)[0].tolist() == first.tolist()  # the seed repeats the noise
    assert first.dtype == np.float32 and first in noisy.observation_space
    errors = [first - exact]
    for a in [1, 1, 2, 2, 3, 0] * 200:
        exact = base.step(a)[0]
        errors.append(noisy.step(a)[0] - exact)
    errors = np.array(errors)
    np.testing.assert_allclose(errors.std(axis=0), [0.5, 0.5], rtol=0.1)
    np.testing.assert_allclose(errors.mean(axis=0), [0.0, 0.0], atol=0.06)
