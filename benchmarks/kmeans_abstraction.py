"""k-means state abstraction (issue 9): tabular Q-learning on continuous observations
clustered into K discrete states, greedy return against K.

Envs: CartPole-v1 (4 continuous features; solved at 475, maximum 500) and
``palaestra/GridWorld-v0`` with ``coords`` observations plus Gaussian noise (std 0.05 cells;
its ``index`` optimum is 0.900, the value-iteration return). For each K the run is
``palaestra train`` with the wrappers ``[gaussian_noise,] kmeans_to_index`` (k-means fitted
on ``--fit-steps`` random-play observations when the run starts) and ``q_learning`` with its
defaults; ``--seeds`` seeds each; reported: the mean and the range of the final greedy
evaluation's mean return (``--eval-episodes`` episodes).

    python benchmarks/kmeans_abstraction.py                   # ~5 min on 2 cores
    python benchmarks/kmeans_abstraction.py --json /tmp/kmeans.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from agents.common.io import atomic_write_text  # noqa: E402
from training import train  # noqa: E402

SETUPS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"env_kwargs": {}, "noise": None, "steps": 200_000},
    "palaestra/GridWorld-v0": {
        "env_kwargs": {"observation_mode": "coords"},
        "noise": 0.05,
        "steps": 40_000,
    },
}


def run(env_id: str, k: int, seed: int, args: argparse.Namespace, out: Path) -> float:
    setup = SETUPS[env_id]
    wrappers: list[dict[str, Any]] = []
    if setup["noise"] is not None:
        wrappers.append({"name": "gaussian_noise", "std": setup["noise"]})
    wrappers.append({"name": "kmeans_to_index", "n_clusters": k, "fit_steps": args.fit_steps})
    result = train(
        env=env_id,
        agent="q_learning",
        steps=setup["steps"],
        seed=seed,
        out=str(out / f"{env_id.replace('/', '_')}_k{k}_s{seed}"),
        env_kwargs=setup["env_kwargs"],
        wrappers=wrappers,
        eval_episodes=args.eval_episodes,
        checkpoint_every=0,
        verbose=False,
    )
    return float(result.eval["mean_return"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 16, 64, 256])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fit-steps", type=int, default=20_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, dict[int, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in SETUPS:
            results[env_id] = {}
            for k in args.ks:
                returns = [run(env_id, k, seed, args, Path(tmp)) for seed in range(args.seeds)]
                results[env_id][k] = returns
                print(f"{env_id} K={k}: {[round(r, 3) for r in returns]}", flush=True)
    lines = ["| env | K | greedy return (mean) | min - max |", "|---|--:|--:|--:|"]
    for env_id, by_k in results.items():
        for k, returns in by_k.items():
            lines.append(
                f"| {env_id} | {k} | {statistics.mean(returns):.3f} | "
                f"{min(returns):.3f} - {max(returns):.3f} |"
            )
    print("\n".join(lines))
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        payload = {"results": results, "config": {k: str(v) for k, v in vars(args).items()}}
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
