"""Environment throughput: single-env random-action steps/s, palaestra beside its peers.

Measures, in one run and on one machine, how many ``env.step`` calls a second one
environment takes under a random policy:

- ``palaestra/GridWorld-v0`` with its default ``index`` observation and with ``grid``;
- ``palaestra/FrozenLake8x8-v0`` against Gymnasium's ``FrozenLake-v1`` 8x8 slippery with the
  same 200-step limit (the like-for-like pair);
- Gymnasium's ``FrozenLake-v1`` (default 4x4), the baseline of the ratio column;
- ``MiniGrid-Empty-8x8-v0``, run with the peer interpreter of ``benchmarks/setup_peers.sh``
  (minigrid needs pygame-ce, which cannot share an environment with pygame).

Method: every measurement runs in a fresh worker process (this file with ``--worker``), the
palaestra and Gymnasium ones with the current interpreter and MiniGrid with the peer one, so
every env gets the same harness. A worker builds the env with ``gymnasium.make`` (the same
wrappers for everyone), draws the actions from a seeded numpy generator before the clock
starts, steps a few untimed warm-up steps, then times ``--steps`` steps, resetting on
termination or truncation inside the timed loop (resets are part of stepping). Each env is
measured ``--repeats`` times with the order rotated every repeat, so drift in the machine
hits every env alike; the table reports the median.

    python benchmarks/env_throughput.py
    python benchmarks/env_throughput.py --steps 20000 --repeats 3 --json throughput.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEER_PYTHON = REPO_ROOT / ".venv-bench" / "bin" / "python"
SETUP_HINT = "create it with `benchmarks/setup_peers.sh`, then rerun or pass --peer-python"


@dataclass(frozen=True)
class Case:
    """One env to measure: how to build it and which interpreter runs it."""

    name: str  # the table's env column
    mode: str  # the table's observation column (the space is appended at run time)
    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    needs: str = "gymnasium"  # "palaestra" (import envs), "gymnasium" or "minigrid"
    peer: bool = False  # run with the peer interpreter

    @property
    def key(self) -> str:
        return f"{self.name} [{self.mode}]"


BASELINE = Case("FrozenLake-v1", "index", "FrozenLake-v1")
CASES: tuple[Case, ...] = (
    Case("palaestra/GridWorld-v0", "index (default)", "palaestra/GridWorld-v0", needs="palaestra"),
    Case(
        "palaestra/GridWorld-v0",
        "grid",
        "palaestra/GridWorld-v0",
        {"observation_mode": "grid"},
        needs="palaestra",
    ),
    Case("palaestra/FrozenLake8x8-v0", "index", "palaestra/FrozenLake8x8-v0", needs="palaestra"),
    Case(
        "FrozenLake-v1 8x8 slippery, 200 steps",
        "index",
        "FrozenLake-v1",
        {"map_name": "8x8", "is_slippery": True, "max_episode_steps": 200},
    ),
    BASELINE,
    Case("MiniGrid-Empty-8x8-v0", "default", "MiniGrid-Empty-8x8-v0", needs="minigrid", peer=True),
)
# (palaestra case, its like-for-like peer) pairs reported under the table.
PAIRS: tuple[tuple[Case, Case], ...] = ((CASES[2], CASES[3]),)


# ---------------------------------------------------------------------------- worker side
def describe_space(space: Any) -> str:
    """A short, table-friendly description of an observation space."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, spaces.Box):
        return f"Box({space.dtype}, {tuple(space.shape)})"
    if isinstance(space, spaces.Dict):
        return (
            "Dict(" + ", ".join(f"{k}: {describe_space(s)}" for k, s in space.spaces.items()) + ")"
        )
    return type(space).__name__


def time_steps(env: Any, actions: list[int], seed: int) -> tuple[float, int]:
    """Seconds to take ``actions`` in ``env``, resetting on episode end; and episodes ended."""
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    episodes = 0
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            reset()
            episodes += 1
    return time.perf_counter() - start, episodes


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case once (in this process) and return the numbers as a dict."""
    import gymnasium as gym
    import numpy as np

    library = spec["needs"]
    if library == "palaestra":
        sys.path.insert(0, str(REPO_ROOT))
        import envs  # noqa: F401  (registers the palaestra ids)
    elif library == "minigrid":
        import minigrid  # noqa: F401  (registers the MiniGrid ids)

    env = gym.make(spec["env_id"], **spec["kwargs"])
    rng = np.random.default_rng(spec["seed"])
    n_actions = int(env.action_space.n)
    warmup = rng.integers(n_actions, size=spec["warmup"]).tolist()
    actions = rng.integers(n_actions, size=spec["steps"]).tolist()
    time_steps(env, warmup, spec["seed"])
    seconds, episodes = time_steps(env, actions, spec["seed"])
    result = {
        "seconds": seconds,
        "steps": len(actions),
        "episodes": episodes,
        "observation_space": describe_space(env.observation_space),
        "wrappers": str(env),
        "python": platform.python_version(),
        "executable": sys.executable,
        "versions": package_versions(["gymnasium", "numpy", library]),
    }
    env.close()
    return result


def package_versions(names: list[str]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# ---------------------------------------------------------------------------- driver side
def measure(case: Case, python: str, steps: int, warmup: int, seed: int) -> dict[str, Any]:
    """Run one worker process for ``case`` and return its result dict."""
    spec = {**asdict(case), "steps": steps, "warmup": warmup, "seed": seed}
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if proc.returncode != 0:
        hint = f"\n{SETUP_HINT}" if case.peer else ""
        raise SystemExit(
            f"error: measuring {case.key} with {python} failed (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()}{hint}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def resolve_peer_python(arg: str | None) -> Path | None:
    if arg is not None:
        # Absolute (workers run from the repo root) but not resolved: a venv's python is a
        # symlink, and following it would leave the venv.
        path = Path(arg).expanduser().absolute()
        if not path.exists():
            raise SystemExit(f"error: --peer-python {arg} does not exist; {SETUP_HINT}")
        return path
    return DEFAULT_PEER_PYTHON if DEFAULT_PEER_PYTHON.exists() else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def interpreter_info(python: Path) -> dict[str, Any]:
    """Python and library versions of the peer interpreter; fails early if minigrid is missing."""
    code = (
        "import importlib.metadata as m, json, platform, sys; import minigrid; "
        "print(json.dumps({'python': f'{platform.python_version()} ({sys.executable})', "
        "'versions': {n: m.version(n) for n in ('gymnasium', 'numpy', 'minigrid', 'pygame-ce')}}))"
    )
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(
            f"error: peer interpreter {python} cannot run minigrid ({last}); {SETUP_HINT}"
        )
    return json.loads(proc.stdout)


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "versions": package_versions(["gymnasium", "numpy", "palaestra"]),
        "load_average": load_average(),
    }


def load_average() -> str:
    """1/5/15-minute load: other work on the machine shows up in the min - max column."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # Windows has no load average
        return "n/a"


def run_all(args: argparse.Namespace, cases: list[Case], peer: Path | None) -> dict[str, list]:
    """Every case ``args.repeats`` times, rotating the order each repeat."""
    results: dict[str, list] = {case.key: [] for case in cases}
    for repeat in range(args.repeats):
        shift = repeat % len(cases)
        for case in cases[shift:] + cases[:shift]:
            python = str(peer) if case.peer else sys.executable
            result = measure(case, python, args.steps, args.warmup, args.seed + repeat)
            results[case.key].append(result)
            rate = result["steps"] / result["seconds"]
            print(
                f"  repeat {repeat + 1}/{args.repeats}  {case.key:<50} {rate:>12,.0f} steps/s",
                file=sys.stderr,
                flush=True,
            )
    return results


def summarize(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["steps"] / r["seconds"] for r in runs]
    steps = sum(r["steps"] for r in runs)
    return {
        "key": case.key,
        "env": case.name,
        "observation": f"{case.mode}: {runs[0]['observation_space']}",
        "steps_per_s_median": statistics.median(rates),
        "steps_per_s_min": min(rates),
        "steps_per_s_max": max(rates),
        "episodes_per_1k_steps": 1000 * sum(r["episodes"] for r in runs) / steps,
        "steps_per_s_all": rates,
        "wrappers": runs[0]["wrappers"],
        "python": runs[0]["executable"],
        "versions": runs[0]["versions"],
    }


def markdown_table(rows: list[dict[str, Any]], baseline: float | None) -> str:
    lines = [
        "| env | observation | steps/s (median) | us/step | min - max steps/s "
        "| episodes / 1k steps | ratio vs FrozenLake-v1 |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        if "skipped" in row:
            lines.append(
                f"| {row['env']} | {row['observation']} | not run: {row['skipped']} | | | | |"
            )
            continue
        median = row["steps_per_s_median"]
        ratio = f"{median / baseline:.2f}x" if baseline else "n/a"
        lines.append(
            f"| {row['env']} | {row['observation']} | {median:,.0f} | {1e6 / median:.2f} "
            f"| {row['steps_per_s_min']:,.0f} - {row['steps_per_s_max']:,.0f} "
            f"| {row['episodes_per_1k_steps']:.1f} | {ratio} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Single-env random-action steps/s of palaestra gridworlds beside "
        "Gymnasium FrozenLake and MiniGrid.",
    )
    parser.add_argument("--steps", type=int, default=100_000, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed steps before timing")
    parser.add_argument("--repeats", type=int, default=7, help="measurements per env (median)")
    parser.add_argument("--seed", type=int, default=0, help="seed of repeat 0 (then +1 each)")
    parser.add_argument(
        "--peer-python",
        default=None,
        help=f"interpreter with minigrid installed (default: {DEFAULT_PEER_PYTHON} if present)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write results")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("steps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0

    peer = resolve_peer_python(args.peer_python)
    cases = [case for case in CASES if peer is not None or not case.peer]
    info = machine_info()
    info["peer"] = interpreter_info(peer) if peer is not None else None
    print("## Machine\n")
    print(f"- cpu: {info['cpu']}, {info['cpu_count']} logical cores")
    print(f"- platform: {info['platform']}")
    print(f"- load average at start (1/5/15 min): {info['load_average']}")
    print(f"- python: {info['python']}")
    print("- " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    if info["peer"] is None:
        print(f"- peer interpreter: none ({SETUP_HINT})")
    else:
        peer_versions = ", ".join(f"{k} {v}" for k, v in info["peer"]["versions"].items())
        print(f"- peer interpreter: {info['peer']['python']}, {peer_versions}")
    print(
        f"- method: {args.steps:,} timed steps after {args.warmup:,} warm-up steps per "
        f"measurement, {args.repeats} repeat(s) in rotated order, median reported",
        flush=True,
    )

    started = time.perf_counter()
    results = run_all(args, cases, peer)
    elapsed = time.perf_counter() - started

    rows = []
    for case in CASES:
        if case.key in results:
            rows.append(summarize(case, results[case.key]))
        else:
            rows.append(
                {
                    "key": case.key,
                    "env": case.name,
                    "observation": case.mode,
                    "skipped": f"no peer interpreter; {SETUP_HINT}",
                }
            )
    baseline_row = next(r for r in rows if r["key"] == BASELINE.key)
    baseline = baseline_row["steps_per_s_median"]
    print("\n## Steps per second\n")
    print(markdown_table(rows, baseline))
    by_key = {r["key"]: r for r in rows}
    for ours, theirs in PAIRS:
        a, b = by_key[ours.key], by_key[theirs.key]
        ratio = a["steps_per_s_median"] / b["steps_per_s_median"]
        print(f"\nLike-for-like: {ours.name} runs at {ratio:.2f}x {theirs.name}.")
    print(f"\n(total {elapsed:.0f} s; load average at end: {load_average()})")

    if args.json is not None:
        payload = {
            "machine": info,
            "config": {k: v for k, v in vars(args).items() if k not in ("worker", "json")},
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"results written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
