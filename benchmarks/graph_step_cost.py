"""GraphNav step cost against graph size (issue 5): does a step stay as cheap on a
100,000-node graph as on a 100-node one, and does memory follow the number of edges?

Rows: ``palaestra/GraphNav-v0`` on the ``geometric`` and ``grid`` families at 100, 10,000
and 100,000 nodes, each with the ``dict`` observation (``view_hops=2``, the local view a
big graph needs) and the ``index`` observation; Gymnasium's ``FrozenLake-v1`` as the
reference peer (a tabular env whose step is a table lookup). Every graph is fixed by
``graph_seed=0`` (``index`` needs it; for ``dict`` it keeps the per-episode graph
generation, seconds at 100,000 nodes, out of the measurement).

Method, in the style of ``benchmarks/env_throughput.py``: every measurement runs in a fresh
worker process (this file with ``--worker``) that builds the env with ``gymnasium.make``
(the registered wrappers, the time limit raised to ``TIME_LIMIT`` so that episodes end only
at the goal). Pass 1, untimed, draws a uniformly random *allowed* action at every step
(``obs["action_mask"]``, or ``action_masks()`` for the ``index`` observation, which
carries no mask) from a seeded generator and is also the warm-up. Pass 2 resets with the
same seed, which replays the same episodes, and takes those actions under the clock. The
clock stops around every ``reset``: the steps/s and us/step columns are the cost of
``step`` alone, and resets are reported on their own (``reset`` computes the Dijkstra
optimum for ``info["optimal_cost"]``, so it grows with the graph by design). Each case is
measured ``--repeats`` times with the order rotated every repeat; the table reports medians.
The ratio column divides a row's us/step by that of the 100-node row of the same family
and observation. ``reset ms`` is the median reset of a run, medianed over the repeats; from
10,000 nodes on a random walk does not reach the goal in ``--steps`` steps, so it is the
first reset alone (one start/goal pair per repeat, drawn from that repeat's seed).

Memory: ``edges`` is the graph's undirected edge count; ``env MB`` is how much the process's
resident memory grew from just before ``gymnasium.make`` to just after the first reset
(the graph, its neighbour tables, the observation tables and the episode's feature table),
and ``bytes / edge`` divides it by ``edges``; ``peak RSS`` is the worker's maximum resident
set, construction temporaries included.

    taskset -c 1 python benchmarks/graph_step_cost.py                   # ~3 min on one core
    python benchmarks/graph_step_cost.py --steps 50000 --repeats 7 --json /tmp/graph_step.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Machine description helpers are shared with the throughput benchmark (same folder, which
# is sys.path[0] when this file runs as a script).
from env_throughput import cpu_model, describe_space, load_average, package_versions

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_ID = "palaestra/GraphNav-v0"
FAMILIES = ("geometric", "grid")
SIZES = (100, 10_000, 100_000)
MODES = ("dict", "index")
VIEW_HOPS = 2
GRAPH_SEED = 0
# Episodes end only at the goal: on a 100,000-node graph a random walk (almost) never gets
# there, so the few resets it needs stay off the clock like all the others.
TIME_LIMIT = 10**9
ISSUE_BOUND = 2.0  # issue 5: a 100,000-node step within 2x of a 100-node step


@dataclass(frozen=True)
class Case:
    """One env to measure."""

    name: str  # the table's env column
    mode: str  # the table's observation column
    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    family: str | None = None  # graph family; None for the reference peer
    nodes: int | None = None

    @property
    def key(self) -> str:
        return f"{self.name} [{self.mode}]"


def graph_case(family: str, nodes: int, mode: str) -> Case:
    kwargs: dict[str, Any] = {
        "graph": family,
        "num_nodes": nodes,
        "graph_seed": GRAPH_SEED,
        "obs_mode": mode,
    }
    if mode == "dict":
        kwargs["view_hops"] = VIEW_HOPS
    label = f"dict, view_hops={VIEW_HOPS}" if mode == "dict" else "index"
    return Case(f"GraphNav {family} {nodes:,}", label, ENV_ID, kwargs, family, nodes)


REFERENCE = Case("FrozenLake-v1", "index", "FrozenLake-v1")
CASES: tuple[Case, ...] = (
    *(graph_case(f, n, m) for f in FAMILIES for m in MODES for n in SIZES),
    REFERENCE,
)


# ---------------------------------------------------------------------------- worker side
def resident_bytes() -> int | None:
    """The process's current resident set (Linux); None where /proc is not available."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_resident_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def allowed_actions(env: Any, obs: Any) -> Any:
    """Indices of the actions that move from here (all of them for an env without masks)."""
    import numpy as np

    if isinstance(obs, dict) and "action_mask" in obs:
        return np.flatnonzero(obs["action_mask"])
    masks = getattr(env.unwrapped, "action_masks", None)
    if masks is not None:
        return np.flatnonzero(masks())
    return np.arange(env.action_space.n)


def draw_actions(env: Any, steps: int, seed: int) -> list[int]:
    """Pass 1 (untimed, the warm-up): a random allowed action at each of ``steps`` steps,
    from ``reset(seed=seed)`` on, resetting at each episode end as pass 2 will."""
    import numpy as np

    draws = np.random.default_rng(seed).random(steps).tolist()
    obs, _ = env.reset(seed=seed)
    actions = []
    for u in draws:
        allowed = allowed_actions(env, obs)
        action = int(allowed[int(u * len(allowed))])
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    return actions


def time_steps(env: Any, actions: list[int], seed: int) -> tuple[float, list[float]]:
    """Pass 2: (seconds spent in ``step``, seconds of each reset) replaying ``actions``.

    Resetting with the same seed replays pass 1's episodes exactly (the graph is fixed and
    moves do not slip), so every action is allowed where it is taken. The clock stops
    around resets; one pair of clock reads per episode, none per step.
    """
    clock = time.perf_counter
    began = clock()
    env.reset(seed=seed)
    resets = [clock() - began]
    step, reset = env.step, env.reset
    stepping = 0.0
    start = clock()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            stopped = clock()
            stepping += stopped - start
            reset()
            start = clock()
            resets.append(start - stopped)
    stepping += clock() - start
    return stepping, resets


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case once, in this process."""
    import gymnasium as gym

    sys.path.insert(0, str(REPO_ROOT))
    import envs  # noqa: F401  (registers the palaestra ids)

    # Import the entry point's module first, so its code is not counted as env memory.
    gym.envs.registration.load_env_creator(gym.spec(spec["env_id"]).entry_point)
    before = resident_bytes()
    built = time.perf_counter()
    env = gym.make(spec["env_id"], max_episode_steps=TIME_LIMIT, **spec["kwargs"])
    build_s = time.perf_counter() - built
    env.reset(seed=spec["seed"])
    after = resident_bytes()
    graph = getattr(env.unwrapped, "graph", None)

    actions = draw_actions(env, spec["steps"], spec["seed"])
    seconds, resets = time_steps(env, actions, spec["seed"])
    result = {
        "seconds": seconds,
        "steps": len(actions),
        "episodes": len(resets) - 1,
        "reset_s_median": statistics.median(resets),
        "build_s": build_s,
        "edges": None if graph is None else len(graph.edges),
        "graph_arrays_bytes": None
        if graph is None
        else int(graph.positions.nbytes + graph.edges.nbytes + graph.weights.nbytes),
        "env_bytes": None if before is None or after is None else after - before,
        "peak_rss_bytes": peak_resident_bytes(),
        "observation_space": describe_space(env.observation_space),
        "wrappers": str(env),
    }
    env.close()
    return result


# ---------------------------------------------------------------------------- driver side
def measure(case: Case, steps: int, seed: int) -> dict[str, Any]:
    """Run one worker process for ``case`` and return its result dict."""
    spec = {**asdict(case), "steps": steps, "seed": seed}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"error: measuring {case.key} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_all(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every case ``args.repeats`` times, rotating the order each repeat."""
    cases = list(CASES)
    results: dict[str, list[dict[str, Any]]] = {case.key: [] for case in cases}
    for repeat in range(args.repeats):
        shift = repeat % len(cases)
        for case in cases[shift:] + cases[:shift]:
            result = measure(case, args.steps, args.seed + repeat)
            results[case.key].append(result)
            print(
                f"  repeat {repeat + 1}/{args.repeats}  {case.key:<45} "
                f"{result['steps'] / result['seconds']:>10,.0f} steps/s",
                file=sys.stderr,
                flush=True,
            )
    return results


def summarize(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["steps"] / r["seconds"] for r in runs]
    first = runs[0]
    env_bytes = [r["env_bytes"] for r in runs if r["env_bytes"] is not None]
    return {
        "key": case.key,
        "env": case.name,
        "family": case.family,
        "nodes": case.nodes,
        "mode": case.mode,
        "observation": first["observation_space"],
        "edges": first["edges"],
        "steps_per_s_median": statistics.median(rates),
        "steps_per_s_min": min(rates),
        "steps_per_s_max": max(rates),
        "us_per_step": 1e6 / statistics.median(rates),
        "reset_ms_median": 1e3 * statistics.median(r["reset_s_median"] for r in runs),
        "build_s_median": statistics.median(r["build_s"] for r in runs),
        "episodes_per_run": statistics.median(r["episodes"] for r in runs),
        "graph_arrays_bytes": first["graph_arrays_bytes"],
        "env_bytes_median": statistics.median(env_bytes) if env_bytes else None,
        "peak_rss_bytes_median": statistics.median(r["peak_rss_bytes"] for r in runs),
        "steps_per_s_all": rates,
        "wrappers": first["wrappers"],
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """``ratio``: us/step over that of the 100-node row of the same family and observation."""
    smallest = min(SIZES)
    base = {(r["family"], r["mode"]): r["us_per_step"] for r in rows if r["nodes"] == smallest}
    for row in rows:
        reference = base.get((row["family"], row["mode"]))
        row["ratio_vs_smallest"] = None if reference is None else row["us_per_step"] / reference


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| env | observation | edges | steps/s (median) | us/step | min - max steps/s "
        "| ratio vs 100 nodes | reset ms | build s | env MB | bytes / edge | peak RSS MB |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        edges = row["edges"]
        ratio = row["ratio_vs_smallest"]
        env_bytes = row["env_bytes_median"]
        per_edge = f"{env_bytes / edges:.0f}" if edges and env_bytes is not None else "n/a"
        lines.append(
            f"| {row['env']} | {row['mode']} | {'n/a' if edges is None else f'{edges:,}'} "
            f"| {row['steps_per_s_median']:,.0f} | {row['us_per_step']:.2f} "
            f"| {row['steps_per_s_min']:,.0f} - {row['steps_per_s_max']:,.0f} "
            f"| {'n/a' if ratio is None else f'{ratio:.2f}x'} | {row['reset_ms_median']:.2f} "
            f"| {row['build_s_median']:.2f} | {_mb(env_bytes)} | {per_edge} "
            f"| {_mb(row['peak_rss_bytes_median'])} |"
        )
    return "\n".join(lines)


def verdict_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per family and observation: the largest graph's ratio against the bound."""
    largest = max(SIZES)
    lines = []
    for row in rows:
        if row["nodes"] != largest:
            continue
        ratio = row["ratio_vs_smallest"]
        ok = "within" if ratio <= ISSUE_BOUND else "NOT within"
        lines.append(
            f"- {row['family']} [{row['mode']}]: a step on {largest:,} nodes costs {ratio:.2f}x "
            f"a step on {min(SIZES)} nodes ({ok} the issue's {ISSUE_BOUND:g}x)."
        )
    return lines


def machine_info() -> dict[str, Any]:
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "python": sys.version.split()[0],
        "versions": package_versions(["gymnasium", "numpy", "palaestra"]),
        "load_average": load_average(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="GraphNav us/step at 100, 10,000 and 100,000 nodes beside FrozenLake-v1."
    )
    parser.add_argument("--steps", type=int, default=20_000, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per case (median)")
    parser.add_argument("--seed", type=int, default=0, help="seed of repeat 0 (then +1 each)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write results")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("steps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0

    info = machine_info()
    print("## Machine\n")
    print(
        f"- cpu: {info['cpu']}, {info['cpu_count']} logical cores, affinity {info['cpu_affinity']}"
    )
    print(f"- load average at start (1/5/15 min): {info['load_average']}")
    print(
        f"- python {info['python']}, " + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    print(
        f"- method: {args.steps:,} timed steps of random allowed actions per measurement "
        f"(drawn in an untimed warm-up pass, replayed from the same seed), resets off the "
        f"clock, {args.repeats} repeat(s) in rotated order, median reported",
        flush=True,
    )

    started = time.perf_counter()
    results = run_all(args)
    elapsed = time.perf_counter() - started
    rows = [summarize(case, results[case.key]) for case in CASES]
    add_ratios(rows)

    print("\n## Step cost against graph size\n")
    print(markdown_table(rows))
    print()
    print("\n".join(verdict_lines(rows)))
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
