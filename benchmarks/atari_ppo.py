"""PPO training throughput on Atari (issue 8): palaestra's PPO beside Stable-Baselines3's, same
env, same settings, same machine, in one run.

Both learners train on the same vector env, the one ``palaestra train --env ALE/Breakout-v5``
steps (``training.environments.make_vector_env``: ale-py's ``AtariVectorEnv`` with the
DQN-paper preprocessing, 8 envs), with CleanRL's ppo_atari settings (palaestra's Atari
preset, ``PPOConfig.ENV_PRESETS["atari"]``: 128 steps x 8 envs, 4 epochs of 4 minibatches,
Nature CNN). SB3 gets the same numbers through palaestra's ``sb3_ppo`` agent (its
``CnnPolicy``); SB3 does not clip the value loss, a negligible difference in cost. Torch
uses every core in both (``torch_threads=None``).

Method: one untimed rollout + update each to warm up, then ``--rounds`` rounds in which each
learner trains ``--steps-per-round`` more steps, taking turns (so load from other work on the
machine hits both alike). Reported: agent steps/s of each (env stepping, acting and updates
together), the median over rounds, and palaestra's over SB3's.

    python benchmarks/atari_ppo.py                      # ~3 min on 2 cores
    python benchmarks/atari_ppo.py --rounds 5 --json /tmp/atari_ppo.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

from env_throughput import cpu_model, load_average, package_versions  # noqa: E402

from agents.common.io import atomic_write_text  # noqa: E402
from agents.deep.ppo import PPO, PPOConfig  # noqa: E402
from agents.sb3.ppo import SB3PPO, SB3PPOConfig  # noqa: E402
from training.environments import make_vector_env  # noqa: E402

PRESET = PPOConfig.ENV_PRESETS["atari"]
SHARED_WITH_SB3 = (
    "n_envs",
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "learning_rate",
    "anneal_lr",
    "clip_range",
    "anneal_clip_range",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "torch_threads",
)


def learners(env_id: str, seed: int) -> dict[str, tuple[Any, Any]]:
    """name -> (agent, its vector env)."""
    out = {}
    for name, cls, config in (
        ("palaestra ppo", PPO, PPOConfig(**PRESET, device="cpu")),
        (
            "SB3 PPO (peer)",
            SB3PPO,
            SB3PPOConfig(**{k: PRESET[k] for k in SHARED_WITH_SB3}, device="cpu"),
        ),
    ):
        venv = make_vector_env(env_id, None, PRESET["n_envs"])
        agent = cls(venv.single_observation_space, venv.single_action_space, config, seed=seed)
        out[name] = (agent, venv)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="ALE/Breakout-v5")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps-per-round", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    pairs = learners(args.env, args.seed)
    rollout = PRESET["n_envs"] * PRESET["n_steps"]
    budget = {name: rollout for name in pairs}  # warm-up: one rollout and update each
    for name, (agent, venv) in pairs.items():
        agent.learn(venv, budget[name])
    rates: dict[str, list[float]] = {name: [] for name in pairs}
    load_before = load_average()
    for _ in range(args.rounds):
        for name, (agent, venv) in pairs.items():
            budget[name] = agent.num_steps + args.steps_per_round
            start_steps, started = agent.num_steps, time.perf_counter()
            agent.learn(venv, budget[name])
            rates[name].append((agent.num_steps - start_steps) / (time.perf_counter() - started))
            print(f"{name}: {rates[name][-1]:.0f} steps/s", flush=True)
    medians = {name: statistics.median(r) for name, r in rates.items()}
    ours, peer = medians["palaestra ppo"], medians["SB3 PPO (peer)"]
    lines = ["| learner | agent steps/s (median) | min - max |", "|---|--:|--:|"]
    for name, r in rates.items():
        lines.append(f"| {name} | {medians[name]:,.0f} | {min(r):,.0f} - {max(r):,.0f} |")
    print("\n".join(lines))
    print(f"palaestra / SB3: {ours / peer:.2f}x")
    machine = {
        "cpu": cpu_model(),
        "load_average": [load_before, load_average()],
        "packages": package_versions(["torch", "stable-baselines3", "ale-py", "gymnasium"]),
    }
    print(machine)
    if args.json is not None:
        payload = {"rates": rates, "medians": medians, "ratio": ours / peer}
        payload |= {"config": {k: str(v) for k, v in vars(args).items()}, "machine": machine}
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    for _, venv in pairs.values():
        venv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
