"""Atari throughput (issue 8): agent steps/s of palaestra's Atari pipelines beside their peers.

One agent step is one step of the frame-skipping pipeline (4 emulator frames by default), so
a vector step of ``n`` envs counts ``n``. Cases, all on Breakout with uniformly random
actions and the same preprocessing (no-op starts up to 30, frame skip 4 with max-pooling,
84x84 grayscale, 4-frame stack, no sticky actions):

- palaestra single: ``envs.atari.make_atari_env`` (the training variant: episodic life and
  reward clipping on top);
- Gymnasium single (peer): ``AtariPreprocessing`` + ``FrameStackObservation`` on
  ``ALE/Breakout-v5`` with ``frameskip=1``, what a Gymnasium user writes by hand;
- palaestra vector: ``envs.atari.make_atari_vector_env`` (training variant), what
  ``palaestra train`` steps;
- AtariVectorEnv bare (peer): ale-py's C++ vector env with the same settings (``SAME_STEP``
  autoreset, ``life_loss_info``, reward clipping): the cost of palaestra's wrapper is the
  gap between these two (the issue's goal: within 10%);
- palaestra sync: Gymnasium's ``SyncVectorEnv`` of ``n_envs`` single pipelines, the other
  way to vectorise (why ``make_vector_env`` uses ``AtariVectorEnv``).

Method: all in this process. A repeat builds every case's env, resets it with the repeat's
seed and steps it ``--warmup-s`` seconds untimed; then the cases take turns, ``--slices``
turns of ``--seconds / --slices`` each with the order rotated every turn, so load from other
work on the machine, which comes and goes, hits every case alike. Single envs reset when an
episode ends, inside the timed loop; vector envs reset themselves. Actions come from a
seeded generator, drawn before the clock starts. The table reports the median over
``--repeats`` repeats. The vector cases use ``--n-envs`` envs; the C++ ones ``--threads``
threads (``num_threads``), which should not exceed the cores the machine can spare.

    python benchmarks/atari_throughput.py                          # about 45 s
    python benchmarks/atari_throughput.py --seconds 10 --repeats 5 --json /tmp/atari.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

# Machine description helpers are shared with the env throughput benchmark (same folder,
# which is sys.path[0] when this file runs as a script).
from env_throughput import cpu_model, load_average, package_versions  # noqa: E402

from agents.common.io import atomic_write_text  # noqa: E402

ENV_ID = "ALE/Breakout-v5"
BREAKOUT_ACTIONS = 4  # the minimal action set: NOOP, FIRE, RIGHT, LEFT
ISSUE_GOAL = 0.9  # the vectorised pipeline's steps/s over the bare AtariVectorEnv's


@dataclass(frozen=True)
class Case:
    """One env to measure: a table row."""

    key: str
    what: str  # the table's description column
    vector: bool
    build: Callable[[argparse.Namespace], Any]
    peer: bool = False
    threaded: bool = False  # steps its envs in AtariVectorEnv's C++ threads

    def envs(self, args: argparse.Namespace) -> str:
        """The table's envs column."""
        if not self.vector:
            return "1 env"
        threads = f", {args.threads} threads" if self.threaded else ", one after another"
        return f"{args.n_envs} envs{threads}"


# ---------------------------------------------------------------------------- the envs
def palaestra_single(args: argparse.Namespace) -> Any:
    from envs.atari import make_atari_env

    return make_atari_env(ENV_ID, training=True)


def gymnasium_single(args: argparse.Namespace) -> Any:
    import ale_py
    import gymnasium as gym
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gym.register_envs(ale_py)
    env = gym.make(ENV_ID, frameskip=1, repeat_action_probability=0.0)
    return FrameStackObservation(AtariPreprocessing(env, noop_max=30), 4)


def palaestra_vector(args: argparse.Namespace) -> Any:
    from envs.atari import make_atari_vector_env

    return make_atari_vector_env(ENV_ID, args.n_envs, training=True, num_threads=args.threads)


def bare_vector(args: argparse.Namespace) -> Any:
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.vector import AutoresetMode

    return AtariVectorEnv(
        "breakout",
        args.n_envs,
        num_threads=args.threads,
        autoreset_mode=AutoresetMode.SAME_STEP,
        repeat_action_probability=0.0,
        noop_max=30,
        life_loss_info=True,
        reward_clipping=True,
    )


def palaestra_sync(args: argparse.Namespace) -> Any:
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from envs.atari import make_atari_env

    makers = [lambda: make_atari_env(ENV_ID, training=True)] * args.n_envs
    return SyncVectorEnv(makers, autoreset_mode=AutoresetMode.SAME_STEP)


CASES: tuple[Case, ...] = (
    Case("palaestra single", "make_atari_env, training variant", False, palaestra_single),
    Case(
        "Gymnasium single",
        "AtariPreprocessing + FrameStackObservation",
        False,
        gymnasium_single,
        peer=True,
    ),
    Case(
        "palaestra vector",
        "make_atari_vector_env, training variant",
        True,
        palaestra_vector,
        threaded=True,
    ),
    Case(
        "AtariVectorEnv bare",
        "ale-py C++ vector env, same settings",
        True,
        bare_vector,
        peer=True,
        threaded=True,
    ),
    Case("palaestra sync", "SyncVectorEnv of make_atari_env", True, palaestra_sync),
)
# (ours, the peer it is compared with) for the ratio lines under the table.
PAIRS = (("palaestra vector", "AtariVectorEnv bare"), ("palaestra single", "Gymnasium single"))


# ---------------------------------------------------------------------------- measuring
def run_for(env: Any, vector: bool, actions: np.ndarray, seconds: float) -> tuple[int, float]:
    """(agent steps, seconds) of stepping ``env`` with ``actions`` (cycled) for ``seconds``."""
    per_step = env.num_envs if vector else 1
    steps, i = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        if vector:
            env.step(actions[i % len(actions)])
        else:
            _, _, terminated, truncated, _ = env.step(int(actions[i % len(actions)]))
            if terminated or truncated:
                env.reset()
        steps += per_step
        i += 1
        if i % 16 == 0 and time.perf_counter() >= deadline:
            return steps, time.perf_counter() - start


class Running:
    """One case's env, built and reset, with its actions and the steps counted so far."""

    def __init__(self, case: Case, args: argparse.Namespace, seed: int) -> None:
        self.case = case
        self.env = case.build(args)
        self.env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        shape = (4096, self.env.num_envs) if case.vector else (4096 * 8,)
        self.actions = rng.integers(0, BREAKOUT_ACTIONS, size=shape, dtype=np.int64)
        self.steps = 0
        self.seconds = 0.0

    def run(self, seconds: float, count: bool = True) -> None:
        steps, elapsed = run_for(self.env, self.case.vector, self.actions, seconds)
        if count:
            self.steps += steps
            self.seconds += elapsed


def measure_repeat(args: argparse.Namespace, repeat: int) -> dict[str, dict[str, Any]]:
    """One repeat: every case built, warmed up, then stepped in ``args.slices`` short turns,
    the order rotated each turn, so load that comes and goes hits every case alike."""
    running = [Running(case, args, args.seed + repeat) for case in CASES]
    for r in running:
        r.run(args.warmup_s, count=False)
    for turn in range(args.slices):
        shift = (repeat + turn) % len(running)
        for r in running[shift:] + running[:shift]:
            r.run(args.seconds / args.slices)
    for r in running:
        r.env.close()
    return {
        r.case.key: {"steps": r.steps, "seconds": r.seconds, "steps_per_s": r.steps / r.seconds}
        for r in running
    }


def run_all(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every case measured in each of ``args.repeats`` repeats."""
    results: dict[str, list[dict[str, Any]]] = {case.key: [] for case in CASES}
    for repeat in range(args.repeats):
        for key, result in measure_repeat(args, repeat).items():
            results[key].append(result)
            print(
                f"  repeat {repeat + 1}/{args.repeats}  {key:<22} "
                f"{result['steps_per_s']:>10,.0f} steps/s",
                file=sys.stderr,
                flush=True,
            )
    return results


def summarize(case: Case, runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    rates = [r["steps_per_s"] for r in runs]
    return {
        "case": case.key,
        "what": case.what,
        "peer": case.peer,
        "envs": case.envs(args),
        "steps_per_s_median": statistics.median(rates),
        "steps_per_s_min": min(rates),
        "steps_per_s_max": max(rates),
        "steps_per_s_all": rates,
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | what | envs | agent steps/s (median) | min - max |",
        "|---|---|---|--:|--:|",
    ]
    for row in rows:
        name = f"{row['case']} (peer)" if row["peer"] else row["case"]
        lines.append(
            f"| {name} | {row['what']} | {row['envs']} | {row['steps_per_s_median']:,.0f} "
            f"| {row['steps_per_s_min']:,.0f} - {row['steps_per_s_max']:,.0f} |"
        )
    return "\n".join(lines)


def ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    by_case = {row["case"]: row["steps_per_s_median"] for row in rows}
    lines = []
    for ours, theirs in PAIRS:
        ratio = by_case[ours] / by_case[theirs]
        lines.append(f"- {ours} runs at {ratio:.2f}x {theirs}.")
    goal = by_case["palaestra vector"] / by_case["AtariVectorEnv bare"]
    verdict = "meets" if goal >= ISSUE_GOAL else "misses"
    lines.append(f"- The vectorised pipeline {verdict} the issue's goal (>= {ISSUE_GOAL:.2f}x).")
    sync = by_case["palaestra vector"] / by_case["palaestra sync"]
    lines.append(f"- AtariVectorEnv-based vector env runs at {sync:.2f}x the SyncVectorEnv one.")
    return lines


def machine_info() -> dict[str, Any]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": cores,
        "python": sys.version.split()[0],
        "versions": package_versions(["gymnasium", "numpy", "ale-py", "opencv-python-headless"]),
        "load_average": load_average(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Agent steps/s of palaestra's Atari pipelines beside Gymnasium's wrappers "
        "and ale-py's AtariVectorEnv (Breakout, random actions)."
    )
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="timed seconds per case and repeat"
    )
    parser.add_argument(
        "--slices", type=int, default=8, help="turns the timed seconds are split into"
    )
    parser.add_argument("--warmup-s", type=float, default=0.5, help="untimed seconds first")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per case (median)")
    parser.add_argument("--n-envs", type=int, default=8, help="envs of the vector cases")
    parser.add_argument("--threads", type=int, default=2, help="C++ threads of the vector cases")
    parser.add_argument("--seed", type=int, default=0, help="seed of repeat 0 (then +1 each)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write results")
    args = parser.parse_args(argv)
    for name in ("repeats", "slices", "n_envs", "threads"):
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} must be at least 1, got {getattr(args, name)}")
    if args.seconds <= 0 or args.warmup_s < 0:
        parser.error("--seconds must be > 0 and --warmup-s >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine_info()
    print("## Machine\n")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    print(f"- cpu: {info['cpu']}, {info['cpu_count']} logical cores, {info['usable_cores']} usable")
    print(f"- load average at start (1/5/15 min): {info['load_average']}")
    print(f"- python {info['python']}, {versions}")
    print(
        f"- method: {ENV_ID}, random actions; per repeat every case warmed up "
        f"{args.warmup_s:g} s, then timed {args.seconds:g} s in {args.slices} turns taken in "
        f"rotated order; median of {args.repeats} repeat(s)",
        flush=True,
    )
    started = time.perf_counter()
    results = run_all(args)
    elapsed = time.perf_counter() - started
    rows = [summarize(case, results[case.key], args) for case in CASES]

    print("\n## Agent steps per second (one step = 4 emulator frames)\n")
    print(markdown_table(rows))
    print()
    print("\n".join(ratio_lines(rows)))
    print(f"\n(total {elapsed:.0f} s; load average at end: {load_average()})")

    if args.json is not None:
        payload = {"machine": info, "config": {k: str(v) for k, v in vars(args).items()}}
        payload["rows"] = rows
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
