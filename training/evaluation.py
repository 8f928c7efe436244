"""Greedy evaluation of an agent: the numbers behind ``eval.json`` and ``palaestra eval``."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.base import Agent
from agents.evaluation import run_episode
from training.config import TrainConfig
from training.rundir import load_run

# Evaluation episodes use seeds far from the training seeds, so evaluation does not replay
# the exact episodes the agent trained on.
EVAL_SEED_OFFSET = 1_000_000


def eval_seed(config: TrainConfig) -> int:
    """Seed of the first evaluation episode of a run (eval.json, ``palaestra eval``, GIFs)."""
    return config.seed + EVAL_SEED_OFFSET


def evaluate(agent: Agent, env: gym.Env, episodes: int = 100, seed: int = 0) -> dict[str, float]:
    """Mean/std return, success rate and mean length over ``episodes`` greedy episodes.

    Episode ``i`` is reset with ``seed + i``, so the numbers are reproducible. An env that
    names end-of-episode figures in ``metadata["eval_metrics"]`` (e.g. GraphNav's
    ``cost_ratio``) also gets ``mean_<name>`` for each: the mean over the episodes whose last
    ``info`` carries a finite value of it.
    """
    if episodes < 1:
        raise ValueError(f"episodes={episodes}: expected an int >= 1")
    results = [run_episode(agent, env, seed=seed + i) for i in range(episodes)]
    returns = np.array([r.episode_return for r in results], dtype=np.float64)
    summary = {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "success_rate": float(np.mean([r.success for r in results])),
        "mean_length": float(np.mean([r.length for r in results])),
        "episodes": episodes,
    }
    for name in env.metadata.get("eval_metrics", ()):
        values = [float(r.info[name]) for r in results if name in r.info]
        finite = [v for v in values if np.isfinite(v)]
        if finite:
            summary[f"mean_{name}"] = float(np.mean(finite))
    return summary


def evaluate_run(run_dir: str | Path, episodes: int | None = None) -> dict[str, float]:
    """Evaluate the last checkpoint of a run directory (``episodes`` default: the config's)."""
    run = load_run(run_dir)
    env = run.make_env()
    try:
        return evaluate(
            run.agent,
            env,
            episodes=run.config.eval_episodes if episodes is None else episodes,
            seed=eval_seed(run.config),
        )
    finally:
        env.close()
