"""Tool-use acceptance benchmark (issue 7): the small transformer trained by behaviour
cloning on the expert's demonstrations, then fine-tuned with PPO, on
``palaestra/ToolUseStructured-v0``; the expert and a random policy beside it.

Protocol. Training uses the ``--task-types`` (default: two-hop lookups and lookups plus
arithmetic, the issue's acceptance tasks) at the env's default difficulty (2: every world
has look-alike distractors). Stage 1 records ``--bc-episodes`` expert episodes (the env's
``expert_action``: the generator's plan) and fits the policy to them; stage 2 runs PPO for
``--ppo-steps`` env steps on the env's own reward (``bc_ppo``'s defaults otherwise). Every
policy is evaluated on the same held-out episodes: ``--eval-episodes`` per task type, episode
``i`` is ``reset(seed=1_000_000 + i)`` (training resets are seeded once with the training
seed and then follow the env's own stream, so these worlds were never trained on). Greedy
actions. Reported per policy and task type: success rate, mean valid calls, and mean wasted
calls over all episodes (valid calls beyond the plan's minimum plus invalid calls), and the
wall time of each stage.

    python benchmarks/tooluse_pipeline.py --ppo-steps 20000     # ~7.5 min on one core
    python benchmarks/tooluse_pipeline.py --bc-episodes 100 --bc-epochs 300 \
        --ppo-steps 20000 --set learning_rate=0.0003            # few demonstrations
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import envs  # noqa: E402, F401  (registers the ids)
from agents.common.io import atomic_write_text  # noqa: E402
from agents.deep.bc_ppo import BCPPO, BCPPOConfig  # noqa: E402

ENV_ID = "palaestra/ToolUseStructured-v0"
EVAL_SEED = 1_000_000
Policy = Callable[[dict[str, np.ndarray], gym.Env], int]


def evaluate(policy: Policy, task_types: list[str], episodes: int) -> dict[str, dict[str, float]]:
    """Per task type: success rate, mean calls, mean wasted calls (all episodes) on the
    held-out episodes."""
    env = gym.make(ENV_ID, task_types=task_types)
    results = {}
    for task_type in task_types:
        success, calls, wasted = [], [], []
        for i in range(episodes):
            obs, info = env.reset(seed=EVAL_SEED + i, options={"task_type": task_type})
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(policy(obs, env))
                done = terminated or truncated
            success.append(bool(info["is_success"]))
            calls.append(info["calls"])
            wasted.append(max(info["calls"] - info["min_calls"], 0) + info["invalid_calls"])
        results[task_type] = {
            "success_rate": float(np.mean(success)),
            "mean_calls": float(np.mean(calls)),
            "mean_wasted_calls": float(np.mean(wasted)),
            "episodes": episodes,
        }
    env.close()
    return results


def random_policy(seed: int) -> Policy:
    rng = np.random.default_rng(seed)

    def act(obs: dict[str, np.ndarray], env: gym.Env) -> int:
        return int(rng.choice(np.flatnonzero(obs["action_mask"])))

    return act


def expert_policy(obs: dict[str, np.ndarray], env: gym.Env) -> int:
    return int(env.get_wrapper_attr("expert_action")())


def agent_policy(agent: BCPPO) -> Policy:
    def act(obs: dict[str, np.ndarray], env: gym.Env) -> int:
        return int(agent.act(obs))

    return act


def markdown_table(rows: list[tuple[str, dict[str, dict[str, float]]]], types: list[str]) -> str:
    header = "| policy | " + " | ".join(
        f"{t}: success | {t}: calls | {t}: wasted calls" for t in types
    )
    lines = [header + " |", "|---|" + "--:|" * (3 * len(types))]
    for name, result in rows:
        cells = [
            f"{result[t]['success_rate']:.1%} | {result[t]['mean_calls']:.2f} | "
            f"{result[t]['mean_wasted_calls']:.2f}"
            for t in types
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-types", nargs="+", default=["two_hop", "lookup_arithmetic"])
    parser.add_argument("--bc-episodes", type=int, default=BCPPOConfig.bc_episodes)
    parser.add_argument("--bc-epochs", type=int, default=BCPPOConfig.bc_epochs)
    parser.add_argument("--ppo-steps", type=int, default=30_000)
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a bc_ppo config field (YAML value), e.g. learning_rate=0.0005",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    started = time.perf_counter()
    types = list(args.task_types)
    env = gym.make(ENV_ID, task_types=types)
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = BCPPOConfig(
        device="cpu", bc_episodes=args.bc_episodes, bc_epochs=args.bc_epochs, **overrides
    )
    agent = BCPPO(env.observation_space, env.action_space, config, seed=args.seed)
    rows = [
        ("expert (generator's plan)", evaluate(expert_policy, types, args.eval_episodes)),
        ("random allowed actions", evaluate(random_policy(args.seed), types, args.eval_episodes)),
    ]
    print(markdown_table(rows, types), flush=True)

    print(f"stage 1: behaviour cloning on {args.bc_episodes} expert episodes", flush=True)
    stage = time.perf_counter()
    agent.bc_stats = agent.behaviour_clone(env)
    agent.bc_done = True
    bc_seconds = time.perf_counter() - stage
    print(f"  {agent.bc_stats}", flush=True)
    rows.append(("behaviour cloning", evaluate(agent_policy(agent), types, args.eval_episodes)))
    print(markdown_table(rows[-1:], types), flush=True)

    print(f"stage 2: PPO for {args.ppo_steps:,} steps", flush=True)
    stage = time.perf_counter()
    agent.learn(env, args.ppo_steps)
    ppo_seconds = time.perf_counter() - stage
    rows.append(("cloning + PPO", evaluate(agent_policy(agent), types, args.eval_episodes)))
    total = time.perf_counter() - started

    table = markdown_table(rows, types)
    print(table)
    timing = (
        f"behaviour cloning {bc_seconds:.0f} s, PPO {ppo_seconds:.0f} s "
        f"({args.ppo_steps / ppo_seconds:.0f} steps/s), whole pipeline with evaluations "
        f"{total:.0f} s"
    )
    print(timing)
    machine = (
        f"{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}"
    )
    print(machine)
    if args.json is not None:
        payload = {
            "results": dict(rows),
            "bc_stats": agent.bc_stats,
            "timing": {"bc_seconds": bc_seconds, "ppo_seconds": ppo_seconds, "total": total},
            "config": vars(args) | {"json": str(args.json)},
            "machine": machine,
        }
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
