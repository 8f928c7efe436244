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
import dataclasses
import itertools
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from agents.base import Callback, EpisodeStats  # noqa: E402
from agents.common.io import atomic_write_text  # noqa: E402
from agents.multiagent.ppo import IPPO, MAPPO  # noqa: E402
from envs.multiagent import parallel_env  # noqa: E402
from envs.multiagent.cover import CoverEnv  # noqa: E402
from envs.multiagent.grid import GRID_MOVES, STAY, grid_distances  # noqa: E402

ENV_ID = "palaestra/CoopCover-v0"
LEARNERS: dict[str, type[IPPO]] = {"mappo": MAPPO, "ippo": IPPO}
Team = Callable[[dict[str, Any], CoverEnv], dict[str, int]]
"""A team policy: (observations of the live agents, the env) -> one action per live agent."""


# --------------------------------------------------------------------------- teams


def random_team(seed: int) -> Team:
    rng = np.random.default_rng(seed)

    def act(observations: dict[str, Any], env: CoverEnv) -> dict[str, int]:
        return {agent: int(rng.integers(len(GRID_MOVES))) for agent in observations}

    return act


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


def learner_team(agent: IPPO, deterministic: bool, seed: int) -> Team:
    generator = torch.Generator(device=agent.device).manual_seed(seed)

    def act(observations: dict[str, Any], env: CoverEnv) -> dict[str, int]:
        if deterministic:
            return agent.act(observations)
        # Sampling draws from the agent's own generator; swap in a seeded one so every
        # evaluation samples the same way.
        own, agent.generator = agent.generator, generator
        try:
            return agent.act(observations, deterministic=False)
        finally:
            agent.generator = own

    return act


# --------------------------------------------------------------------------- evaluation


def evaluate(team: Team, episodes: int, test_seed: int) -> dict[str, float]:
    """Success rate, mean team return and mean length over the test episodes."""
    env = parallel_env(ENV_ID)
    successes, returns, lengths = 0, [], []
    try:
        for i in range(episodes):
            observations, _ = env.reset(seed=test_seed + i)
            team_return, length, infos = 0.0, 0, {}
            while env.agents:
                observations, rewards, _, _, infos = env.step(team(observations, env))
                team_return += float(np.mean(list(rewards.values())))
                length += 1
            successes += all(info["is_success"] for info in infos.values())
            returns.append(team_return)
            lengths.append(length)
    finally:
        env.close()
    return {
        "success_rate": successes / episodes,
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean(lengths)),
        "episodes": episodes,
    }


class Progress(Callback):
    """Every ``every`` steps: training success rate and team return of the last 200
    episodes, with steps/s, so a run shows its learning curve."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.next_report = every
        self.started = time.perf_counter()
        self.episodes: list[EpisodeStats] = []
        self.curve: list[dict[str, float]] = []

    def on_episode_end(self, agent: Any, episode: EpisodeStats) -> None:
        self.episodes.append(episode)

    def on_step(self, agent: Any, num_steps: int) -> bool:
        if num_steps < self.next_report or not self.episodes:
            return True
        self.next_report += self.every
        recent = self.episodes[-200:]
        elapsed = time.perf_counter() - self.started
        point = {
            "steps": num_steps,
            "seconds": elapsed,
            "train_success": float(np.mean([e.success for e in recent])),
            "train_return": float(np.mean([e.episode_return for e in recent])),
        }
        self.curve.append(point)
        print(
            f"  {num_steps:>9,} steps {elapsed:7.1f} s ({num_steps / elapsed:,.0f} steps/s)  "
            f"training success {point['train_success']:.2f}  return {point['train_return']:.2f}",
            flush=True,
        )
        return True


def train(name: str, seed: int, args: argparse.Namespace) -> tuple[IPPO, dict[str, Any]]:
    cls = LEARNERS[name]
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = dataclasses.replace(cls.config_class(device=args.device), **overrides)
    env = parallel_env(ENV_ID)
    agent = cls.for_env(env, config, seed=seed)
    progress = Progress(args.report_every)
    started = time.perf_counter()
    agent.learn(env, args.train_steps, progress)
    seconds = time.perf_counter() - started
    env.close()
    return agent, {
        "learner": name,
        "seed": seed,
        "steps": agent.num_steps,
        "wall_seconds": seconds,
        "steps_per_second": agent.num_steps / seconds,
        "config": dataclasses.asdict(config),
        "curve": progress.curve,
    }


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
    parser.add_argument("--learners", nargs="+", choices=list(LEARNERS), default=list(LEARNERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds")
    parser.add_argument("--train-steps", type=int, default=3_000_000)
    parser.add_argument("--episodes", type=int, default=200, help="evaluation episodes")
    parser.add_argument("--test-seed", type=int, default=10_000, help="seed of test episode 0")
    parser.add_argument("--report-every", type=int, default=250_000)
    parser.add_argument("--device", default="cpu", help="learner device (auto, cpu, cuda)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field of every learner (YAML value)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    rows: list[dict[str, Any]] = []
    trainings = []
    for name in args.learners:
        for seed in args.seeds:
            print(f"training {name} on {ENV_ID}, seed {seed}, {args.train_steps:,} steps")
            agent, training = train(name, seed, args)
            trainings.append(training)
            print(f"trained in {training['wall_seconds']:.1f} s")
            rows.append(
                {
                    "team": name,
                    "seed": seed,
                    "greedy": evaluate(
                        learner_team(agent, True, seed), args.episodes, args.test_seed
                    ),
                    "sampled": evaluate(
                        learner_team(agent, False, seed), args.episodes, args.test_seed
                    ),
                    "train_seconds": training["wall_seconds"],
                }
            )
    references: dict[str, Team] = {
        "random moves": random_team(0),
        "scripted: agent i -> target i": fixed_assignment_team,
        "scripted: min-makespan assignment": min_makespan_team,
    }
    for name, team in references.items():
        rows.append({"team": name, "greedy": evaluate(team, args.episodes, args.test_seed)})
    table = markdown_table(rows)
    print(table)
    versions = (
        f"{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(versions)
    if args.json is not None:
        payload = {"trainings": trainings, "results": rows, "machine": versions}
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
