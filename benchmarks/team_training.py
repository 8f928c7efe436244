"""What the multi-agent gridworld benchmarks share (``coop_cover.py``, ``predator_prey.py``):
training IPPO/MAPPO with a learning-curve printout, wrapping a trained learner or a scripted
policy as a team, and evaluating teams on fixed, shared test episodes."""

from __future__ import annotations

import argparse
import dataclasses
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

LEARNERS: dict[str, type[IPPO]] = {"mappo": MAPPO, "ippo": IPPO}
Team = Callable[[dict[str, Any], Any], dict[str, int]]
"""A team policy: (observations of the live agents, the env) -> one action per live agent."""


def random_team(n_actions: int, seed: int) -> Team:
    """Uniformly random actions for every live agent, from a seeded generator."""
    rng = np.random.default_rng(seed)

    def act(observations: dict[str, Any], env: Any) -> dict[str, int]:
        return {agent: int(rng.integers(n_actions)) for agent in observations}

    return act


def learner_team(agent: IPPO, deterministic: bool, seed: int) -> Team:
    """The learner's greedy actions, or actions sampled from a generator seeded with
    ``seed`` (so every evaluation samples the same way)."""
    generator = torch.Generator(device=agent.device).manual_seed(seed)

    def act(observations: dict[str, Any], env: Any) -> dict[str, int]:
        if deterministic:
            return agent.act(observations)
        own, agent.generator = agent.generator, generator
        try:
            return agent.act(observations, deterministic=False)
        finally:
            agent.generator = own

    return act


def evaluate(
    env_id: str, team: Team, episodes: int, test_seed: int, **env_kwargs: Any
) -> dict[str, float]:
    """Success rate (every agent's last ``is_success``), mean team return (mean over agents
    of the summed rewards) and mean and median episode length over the test episodes:
    episode ``i`` is ``reset(seed=test_seed + i)``, the same for every team."""
    env = parallel_env(env_id, **env_kwargs)
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
        "median_length": float(np.median(lengths)),
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
            "train_length": float(np.mean([e.length for e in recent])),
        }
        self.curve.append(point)
        print(
            f"  {num_steps:>9,} steps {elapsed:7.1f} s ({num_steps / elapsed:,.0f} steps/s)  "
            f"training success {point['train_success']:.2f}  return {point['train_return']:.2f}"
            f"  length {point['train_length']:.1f}",
            flush=True,
        )
        return True


def train(
    env_id: str, name: str, seed: int, args: argparse.Namespace
) -> tuple[IPPO, dict[str, Any]]:
    """Train learner ``name`` from scratch for ``args.train_steps`` parallel steps with its
    default config plus the ``args.set`` overrides (``KEY=VALUE``, YAML values)."""
    cls = LEARNERS[name]
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    config = dataclasses.replace(cls.config_class(device=args.device), **overrides)
    env = parallel_env(env_id)
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


def add_training_arguments(parser: argparse.ArgumentParser, train_steps: int) -> None:
    """The command-line options every team benchmark takes."""
    parser.add_argument("--learners", nargs="+", choices=list(LEARNERS), default=list(LEARNERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds")
    parser.add_argument("--train-steps", type=int, default=train_steps)
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


def train_and_evaluate(env_id: str, args: argparse.Namespace) -> tuple[list, list]:
    """(result rows, training records): every learner x seed trained, then evaluated
    greedily and by sampling on the shared test episodes."""
    rows: list[dict[str, Any]] = []
    trainings = []
    for name in args.learners:
        for seed in args.seeds:
            print(f"training {name} on {env_id}, seed {seed}, {args.train_steps:,} steps")
            agent, training = train(env_id, name, seed, args)
            trainings.append(training)
            print(f"trained in {training['wall_seconds']:.1f} s")
            rows.append(
                {
                    "team": name,
                    "seed": seed,
                    "greedy": evaluate(
                        env_id, learner_team(agent, True, seed), args.episodes, args.test_seed
                    ),
                    "sampled": evaluate(
                        env_id, learner_team(agent, False, seed), args.episodes, args.test_seed
                    ),
                    "train_seconds": training["wall_seconds"],
                }
            )
    return rows, trainings


def run_teams(
    env_id: str, args: argparse.Namespace, references: dict[str, Team]
) -> tuple[list, list]:
    """(result rows, training records): the learners trained and evaluated
    (:func:`train_and_evaluate`), then the scripted ``references`` on the same episodes."""
    rows, trainings = train_and_evaluate(env_id, args)
    for name, team in references.items():
        rows.append({"team": name, "greedy": evaluate(env_id, team, args.episodes, args.test_seed)})
    return rows, trainings


def write_json(args: argparse.Namespace, rows: list, trainings: list) -> None:
    """The results to ``args.json`` (atomically), when it is given."""
    if args.json is not None:
        payload = {"trainings": trainings, "results": rows, "machine": machine()}
        atomic_write_text(args.json, json.dumps(payload, indent=2))


def machine() -> str:
    return (
        f"{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}"
    )
