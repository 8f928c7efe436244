"""GraphNav acceptance benchmark (issue 5): PPO with the message-passing encoder against a
random policy, the greedy "closest to the goal by position" heuristic and the Dijkstra
oracle, on random geometric graphs the agent never saw.

Protocol. PPO trains on ``palaestra/GraphNav-v0`` (20-node random geometric graphs, a new
graph every episode, drawn from the training seed's stream) with the GNN encoder that
``make_encoder`` picks for the env's Dict observation. Every policy is then evaluated on
the same test episodes: episode ``i`` of a test set is ``reset(seed=test_seed + i)``, which
draws its graph, start and goal from that seed, so the test graphs are never the training
ones (their node positions are continuous draws from other seeds) and every policy faces
identical episodes. Two test sets: 100 episodes on 20-node graphs and 100 on 50-node
graphs (the same weights; the encoder does not depend on the graph's size). Reported per
policy and set: success rate (goal reached within the env's 100-step limit) and the mean
ratio of the path's cost to the Dijkstra optimum over the successful episodes.

    python benchmarks/graph_nav.py                               # train, then evaluate
    python benchmarks/graph_nav.py --train-steps 200000 --json /tmp/graph_nav.json
    python benchmarks/graph_nav.py --set learning_rate=1e-3 --set n_epochs=4
    python benchmarks/graph_nav.py --save /tmp/gnn.pt            # keep the trained agent
    python benchmarks/graph_nav.py --load /tmp/gnn.pt            # evaluate a saved agent
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import envs  # noqa: E402,F401  (registers palaestra/GraphNav-v0)
from agents.base import Callback  # noqa: E402
from agents.common.io import atomic_write_text  # noqa: E402
from agents.deep.ppo import PPO, PPOConfig  # noqa: E402

ENV_ID = "palaestra/GraphNav-v0"
TEST_SETS = {"20-node": 20, "50-node": 50}
Policy = Callable[[dict[str, np.ndarray], gym.Env], int]


# ----------------------------------------------------------------------------- policies


def random_policy(seed: int) -> Policy:
    """Uniform over the allowed neighbours."""
    rng = np.random.default_rng(seed)

    def act(obs: dict[str, np.ndarray], env: gym.Env) -> int:
        return int(rng.choice(np.flatnonzero(obs["action_mask"])))

    return act


def greedy_by_position(obs: dict[str, np.ndarray], env: gym.Env) -> int:
    """The allowed neighbour closest to the goal in straight-line distance (feature 4)."""
    distances = np.where(obs["action_mask"] > 0, obs["neighbors"][:, 4], np.inf)
    return int(np.argmin(distances))


def oracle(obs: dict[str, np.ndarray], env: gym.Env) -> int:
    """The next edge of a shortest path (the env's Dijkstra oracle): the ceiling."""
    return int(env.unwrapped.optimal_action())


def agent_policy(agent: PPO) -> Policy:
    def act(obs: dict[str, np.ndarray], env: gym.Env) -> int:
        return int(agent.act(obs, deterministic=True))

    return act


# --------------------------------------------------------------------------- evaluation


def evaluate(policy: Policy, num_nodes: int, episodes: int, test_seed: int) -> dict[str, float]:
    """Success rate and mean cost ratio (successful episodes) over the test episodes."""
    env = gym.make(ENV_ID, num_nodes=num_nodes)
    successes, ratios = 0, []
    try:
        for i in range(episodes):
            obs, info = env.reset(seed=test_seed + i)
            terminated = truncated = False
            while not (terminated or truncated):
                obs, _, terminated, truncated, info = env.step(policy(obs, env))
            if info["is_success"]:
                successes += 1
                ratios.append(float(info["cost_ratio"]))
    finally:
        env.close()
    return {
        "success_rate": successes / episodes,
        "mean_cost_ratio": float(np.mean(ratios)) if ratios else float("nan"),
        "max_cost_ratio": float(np.max(ratios)) if ratios else float("nan"),
        "episodes": episodes,
    }


class ProgressPrinter(Callback):
    """Every ``every`` steps: success rate of the greedy policy on 20 validation graphs
    (seeds apart from the test sets), so a run shows its learning curve."""

    def __init__(self, every: int, validation_seed: int) -> None:
        self.every = every
        self.validation_seed = validation_seed
        self.next_report = every
        self.started = time.perf_counter()
        self.curve: list[dict[str, float]] = []

    def on_step(self, agent: Any, num_steps: int) -> bool:
        if num_steps < self.next_report:
            return True
        self.next_report += self.every
        result = evaluate(agent_policy(agent), 20, 20, self.validation_seed)
        elapsed = time.perf_counter() - self.started
        self.curve.append({"steps": num_steps, "seconds": elapsed, **result})
        print(
            f"  {num_steps:>8,} steps {elapsed:7.1f} s  validation success "
            f"{result['success_rate']:.2f}  cost ratio {result['mean_cost_ratio']:.3f}",
            flush=True,
        )
        return True


def train(args: argparse.Namespace) -> tuple[PPO, dict[str, Any]]:
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = PPOConfig(**{"device": "cpu", **overrides})
    env = gym.make(ENV_ID, num_nodes=20)
    agent = PPO(env.observation_space, env.action_space, config, seed=args.seed)
    progress = ProgressPrinter(args.report_every, validation_seed=args.test_seed + 50_000)
    started = time.perf_counter()
    agent.learn(env, args.train_steps, progress)
    seconds = time.perf_counter() - started
    env.close()
    return agent, {
        "steps": agent.num_steps,
        "wall_seconds": seconds,
        "config_overrides": overrides,
        "curve": progress.curve,
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = "| policy | " + " | ".join(
        f"{name} success | {name} mean cost ratio" for name in TEST_SETS
    )
    lines = [head + " |", "|---|" + "--:|--:|" * len(TEST_SETS)]
    for row in rows:
        cells = [row["policy"]]
        for name in TEST_SETS:
            r = row[name]
            cells += [f"{r['success_rate']:.0%}", f"{r['mean_cost_ratio']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-steps", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--test-seed", type=int, default=10_000, help="seed of test episode 0")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes per set")
    parser.add_argument("--report-every", type=int, default=25_000)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a PPOConfig field (YAML value)",
    )
    parser.add_argument("--save", type=Path, help="save the trained agent here")
    parser.add_argument("--load", type=Path, help="evaluate this saved agent, no training")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    if args.load is not None:
        agent, training = PPO.load(args.load), {"loaded": str(args.load)}
    else:
        print(f"training PPO (GNN encoder) on {ENV_ID}, 20 nodes, {args.train_steps:,} steps")
        agent, training = train(args)
        print(f"trained in {training['wall_seconds']:.1f} s")
        if args.save is not None:
            agent.save(args.save)

    policies: dict[str, Policy] = {
        "random": random_policy(args.seed),
        "greedy by position": greedy_by_position,
        "PPO + GNN (palaestra)": agent_policy(agent),
        "Dijkstra oracle": oracle,
    }
    rows = []
    for name, policy in policies.items():
        row: dict[str, Any] = {"policy": name}
        for set_name, num_nodes in TEST_SETS.items():
            row[set_name] = evaluate(policy, num_nodes, args.episodes, args.test_seed)
        rows.append(row)
    table = markdown_table(rows)
    print(table)
    versions = f"{platform.platform()}, Python {platform.python_version()}"
    print(versions)
    if args.json is not None:
        payload = {"training": training, "results": rows, "machine": versions}
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
