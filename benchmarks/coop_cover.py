"""CoopCover acceptance benchmark (issue 6): MAPPO and IPPO against scripted teams on
``palaestra/CoopCover-v0`` (3 agents, 3 targets, the default 7x7 map with four pillars).

Protocol. Each learner trains from scratch with its default config (``--set`` overrides),
for ``--train-steps`` parallel env steps, once per training seed. Every policy is then
evaluated on the same test episodes: episode ``i`` is ``reset(seed=test_seed + i)``, which
draws the agent starts and the targets, so the test layouts are fixed and shared by every
policy (training draws its layouts from the training seed's streams, so the exact test
layouts are unlikely to have been seen). The learners act greedily (``act(...,
deterministic=True)``) and, in a second column, by sampling their policy (a seeded
generator). Reported per policy: the success rate (every target covered at once before the
50-step limit: the issue's acceptance measure, MAPPO >= 90%), the mean team return and the
mean episode length.

Reference teams, evaluated on the same episodes: uniformly random moves; "agent i -> target
i" (each agent walks a shortest path to the target with its own index, ignoring the
others); and "min-makespan assignment" (the agent-target matching with the smallest
longest walk, then the same shortest-path moves). The scripted teams know the map and read
the env's positions directly; their failures are collisions that block them for good.

    python benchmarks/coop_cover.py                                # both learners, seed 0
    python benchmarks/coop_cover.py --learners mappo --seeds 0 1 2 --json /tmp/cover.json
    python benchmarks/coop_cover.py --train-steps 500000 --set learning_rate=5e-4
"""

from __future__ import annotations

import argparse
import itertools
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

from envs.multiagent.cover import CoverEnv
from envs.multiagent.grid import GRID_MOVES, STAY, grid_distances

ENV_ID = "palaestra/CoopCover-v0"


# --------------------------------------------------------------------------- teams


def shortest_path_moves(env: CoverEnv, assignment: tuple[int, ...]) -> dict[str, int]:
    """Agent ``i`` takes a move that shortens its walk to target ``assignment[i]`` (the
    first such move in action order), or stays once there."""
    distances = grid_distances(env.walls)
    width = env.width
    actions = {}
    for i, agent in enumerate(env.possible_agents):
        if agent not in env.agents:
            continue
        row, col = env.target_cells[assignment[i]]
        to_target = distances[row * width + col]
        here = env.positions[i]
        best, best_distance = STAY, to_target[here[0] * width + here[1]]
        for action, (dr, dc) in enumerate(GRID_MOVES[:STAY]):
            r, c = here[0] + dr, here[1] + dc
            on_floor = 0 <= r < env.height and 0 <= c < width and not env.walls[r, c]
            if on_floor and to_target[r * width + c] < best_distance:
                best, best_distance = action, to_target[r * width + c]
        actions[agent] = best
    return actions


def fixed_assignment_team(observations: dict[str, Any], env: CoverEnv) -> dict[str, int]:
    return shortest_path_moves(env, tuple(range(len(env.possible_agents))))


def min_makespan_team(observations: dict[str, Any], env: CoverEnv) -> dict[str, int]:
    distances = grid_distances(env.walls)
    width = env.width
    n = len(env.possible_agents)
    cells = env.target_cells[:, 0] * width + env.target_cells[:, 1]
    starts = env.positions[:, 0] * width + env.positions[:, 1]

    def makespan(perm: tuple[int, ...]) -> int:
        return max(int(distances[cells[perm[i]], starts[i]]) for i in range(n))

    return shortest_path_moves(env, min(itertools.permutations(range(n)), key=makespan))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| team | training seed | success (greedy) | success (sampled) | mean return (greedy) "
        "| mean length (greedy) | train time |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        greedy, sampled = row["greedy"], row.get("sampled")
        lines.append(
            f"| {row['team']} | {row.get('seed', '-')} | {greedy['success_rate']:.1%} | "
            + (f"{sampled['success_rate']:.1%}" if sampled else "-")
            + f" | {greedy['mean_return']:.2f} | {greedy['mean_length']:.1f} | "
            + (f"{row['train_seconds']:.0f} s" if "train_seconds" in row else "-")
            + " |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_arguments(parser, train_steps=3_000_000)
    args = parser.parse_args()

    references: dict[str, Team] = {
        "random moves": random_team(len(GRID_MOVES), 0),
        "scripted: agent i -> target i": fixed_assignment_team,
        "scripted: min-makespan assignment": min_makespan_team,
    }
    rows, trainings = run_teams(ENV_ID, args, references)
    table = markdown_table(rows)
    print(table)
    print(machine())
    write_json(args, rows, trainings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
