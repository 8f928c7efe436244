"""Predator-prey acceptance benchmark (issue 6): learned predators against random and
scripted ones on ``palaestra/PredatorPrey-v0`` (3 predators, one scripted prey that flees
with probability 0.8, the default 7x7 room with five pillars, 2 predators next to the prey
catch it, 100-step limit).

Protocol. MAPPO and IPPO train from scratch with their default configs (``--set``
overrides) for ``--train-steps`` parallel env steps, once per training seed. Every team is
then evaluated on the same test episodes: episode ``i`` is ``reset(seed=test_seed + i)``,
which draws the starts and seeds the prey's moves, so every team meets the same starts (the
prey's later moves depend on the predators'). Learners act greedily and, in a second
column, by sampling their policy. Reported per team: the capture rate within the limit, the
mean and median time to capture (steps; an episode without a capture counts as the 100-step
limit, so the mean is a lower bound for teams that miss), and the mean team return.

Reference teams on the same episodes: uniformly random moves, and the env's
``chase_actions`` (every predator walks a shortest path towards the prey: a strong scripted
baseline that knows the map).

    python benchmarks/predator_prey.py                          # both learners, seed 0
    python benchmarks/predator_prey.py --seeds 0 1 2 --json /tmp/pp.json
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from team_training import (
    Team,
    add_training_arguments,
    machine,
    random_team,
    run_teams,
    write_json,
)

from envs.multiagent.grid import GRID_MOVES
from envs.multiagent.predator_prey import PredatorPreyEnv

ENV_ID = "palaestra/PredatorPrey-v0"


def chase_team(observations: dict[str, Any], env: PredatorPreyEnv) -> dict[str, int]:
    return env.chase_actions()


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| team | training seed | capture rate (greedy) | mean / median steps to capture "
        "(greedy) | capture rate (sampled) | mean / median steps (sampled) | train time |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]

    def cells(result: dict[str, float] | None) -> str:
        if result is None:
            return "- | -"
        return (
            f"{result['success_rate']:.1%} | "
            f"{result['mean_length']:.1f} / {result['median_length']:.0f}"
        )

    for row in rows:
        lines.append(
            f"| {row['team']} | {row.get('seed', '-')} | {cells(row['greedy'])} | "
            f"{cells(row.get('sampled'))} | "
            + (f"{row['train_seconds']:.0f} s" if "train_seconds" in row else "-")
            + " |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, train_steps=300_000)
    args = parser.parse_args()

    references: dict[str, Team] = {
        "random moves": random_team(len(GRID_MOVES), 0),
        "scripted: chase the prey": chase_team,
    }
    rows, trainings = run_teams(ENV_ID, args, references)
    print(markdown_table(rows))
    random_mean = rows[-2]["greedy"]["mean_length"]
    for row in rows[:-2]:
        for mode in ("greedy", "sampled"):
            learned = row[mode]["mean_length"]
            print(
                f"{row['team']} seed {row['seed']} ({mode}): captures in {learned:.1f} steps on "
                f"average, {random_mean / learned:.1f}x faster than random predators "
                f"({random_mean:.1f})"
            )
    print(machine())
    write_json(args, rows, trainings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
