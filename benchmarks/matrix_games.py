"""Coordination in repeated matrix games (issue 6): independent Q-learning against the
coordination-aware tabular learners, hysteretic and lenient Q-learning.

Protocol. Each learner trains for ``--plays`` plays of a game, once per seed (seeds
``0 .. --seeds - 1``), in the standard setting of Claus & Boutilier (1998): every play is a
bandit problem (``gamma=0``) and exploration decays linearly from epsilon 1 to 0 over the
first 80% of the plays; step sizes are each learner's defaults (alpha 0.1; hysteretic
beta 0.01; lenient temperature 50, decay 0.9998, k 1). Two observation settings:

- ``stateless``: the learners ignore observations (one table row per agent);
- ``memory``: they key their tables by the env's memory-one observation (the previous joint
  action, a separate start value on the first play).

After training, one greedy episode (``max_cycles`` = 25 plays) is played; the seed's outcome
is the joint action of its last play and its payoff the mean team payoff per play. The
table reports, per game and learner, the fraction of seeds whose outcome is an optimal
joint action, the fraction reaching each joint action, and the mean greedy payoff over
seeds (the optimum is the env's ``optimal_payoff``).

    python benchmarks/matrix_games.py
    python benchmarks/matrix_games.py --seeds 20 --plays 5000 --json /tmp/matrix_games.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from agents.common.io import atomic_write_text  # noqa: E402
from agents.evaluation import run_team_episode  # noqa: E402
from agents.multiagent import (  # noqa: E402
    HystereticQLearning,
    IndependentQLearning,
    LenientQLearning,
)
from envs.multiagent import parallel_env  # noqa: E402

LEARNERS: dict[str, type[IndependentQLearning]] = {
    cls.name: cls for cls in (IndependentQLearning, HystereticQLearning, LenientQLearning)
}
GAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "Climbing": ("palaestra/ClimbingGame-v0", {}),
    "Penalty k=-10": ("palaestra/PenaltyGame-v0", {"k": -10.0}),
    "Penalty k=-100": ("palaestra/PenaltyGame-v0", {"k": -100.0}),
}
SETTINGS = {"stateless": True, "memory": False}


def train_and_play(
    cls: type[IndependentQLearning],
    env_id: str,
    env_kwargs: dict[str, Any],
    stateless: bool,
    plays: int,
    seed: int,
) -> dict[str, Any]:
    """One seed: train, then play a greedy episode; its last joint action and mean payoff."""
    env = parallel_env(env_id, **env_kwargs)
    config = cls.config_class(
        gamma=0.0,
        stateless=stateless,
        epsilon_start=1.0,
        epsilon_end=0.0,
        epsilon_decay_fraction=0.8,
    )
    learner = cls.for_env(env, config, seed=seed)
    learner.learn(env, total_steps=plays)
    result = run_team_episode(learner, env)
    info = result.info
    joint = tuple(info["joint_action"])
    return {
        "seed": seed,
        "joint_action": joint,
        "optimal": joint in {tuple(j) for j in info["optimal_joint_actions"]},
        "payoff": result.episode_return / result.length,
        "optimal_payoff": info["optimal_payoff"],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(runs)
    counts = Counter(run["joint_action"] for run in runs)
    return {
        "optimal_fraction": sum(run["optimal"] for run in runs) / n,
        "joint_action_fractions": {
            f"{a0},{a1}": count / n for (a0, a1), count in counts.most_common()
        },
        "mean_payoff": sum(run["payoff"] for run in runs) / n,
        "optimal_payoff": runs[0]["optimal_payoff"],
    }


def joint_name(key: str, action_names: tuple[str, ...]) -> str:
    a0, a1 = (int(x) for x in key.split(","))
    return f"({action_names[a0]},{action_names[a1]})"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| game | learner | optimal | joint actions reached (fraction of seeds) "
        "| mean greedy payoff (optimum) |",
        "|---|---|---:|---|---:|",
    ]
    for row in rows:
        reached = ", ".join(
            f"{joint_name(key, row['action_names'])} {fraction:.2f}"
            for key, fraction in row["joint_action_fractions"].items()
        )
        lines.append(
            f"| {row['game']} | {row['learner']} | {row['optimal_fraction']:.2f} | {reached} "
            f"| {row['mean_payoff']:.2f} ({row['optimal_payoff']:g}) |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds per game and learner")
    parser.add_argument("--plays", type=int, default=5_000, help="training plays per seed")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        default=list(SETTINGS),
        help="observation settings to run (default: all)",
    )
    parser.add_argument(
        "--learners",
        nargs="+",
        choices=list(LEARNERS),
        default=list(LEARNERS),
        help="learners to run (default: all)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    print(f"python {platform.python_version()}, {args.seeds} seeds, {args.plays} plays each\n")
    results: dict[str, list[dict[str, Any]]] = {}
    for setting in args.settings:
        rows = []
        for game, (env_id, env_kwargs) in GAMES.items():
            action_names = parallel_env(env_id, **env_kwargs).game.action_names
            for name in args.learners:
                runs = [
                    train_and_play(
                        LEARNERS[name], env_id, env_kwargs, SETTINGS[setting], args.plays, seed
                    )
                    for seed in range(args.seeds)
                ]
                rows.append(
                    {
                        "game": game,
                        "learner": name,
                        "action_names": action_names,
                        **summarize(runs),
                        "runs": runs,
                    }
                )
        results[setting] = rows
        print(f"## Observation setting: {setting}\n")
        print(markdown_table(rows) + "\n")
    print(f"(total {time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        payload = {"config": {k: v for k, v in vars(args).items() if k != "json"}, **results}
        atomic_write_text(args.json, json.dumps(payload, indent=2, default=str) + "\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
