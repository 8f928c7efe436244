"""Time to solve CartPole-v1: palaestra's PPO, DQN and A2C beside Stable-Baselines3's.

For each algorithm, both libraries train with RL Baselines3 Zoo's tuned CartPole-v1
hyperparameters (palaestra's defaults are the same settings) and budgets (PPO 100k, DQN
50k, A2C 500k steps), seeds interleaved: sb3 seed 0, palaestra seed 0, sb3 seed 1, ...
Every 5k training steps a 20-episode greedy evaluation runs on a separate CartPole-v1; a
run is solved at the first evaluation whose mean return reaches 475. Reported per library:
seeds solved, median wall-clock training time to that evaluation (evaluation time left
out), median steps, and raw training throughput (env steps/s, updates included, no
evaluation) at the Zoo's number of envs (8 for PPO and A2C, 1 for DQN).

Method: every run is a fresh worker process (this file with ``--worker``), so no library
inherits another's warm caches, allocator state or torch thread setting, and a crash costs
one row. Setup (imports, building the model and envs) is outside the clock; ``learn`` is
inside, minus the evaluations. Palaestra agents come from ``agents.registry`` by name; an
algorithm whose palaestra agent does not exist yet is reported for SB3 only. SB3 runs with
torch's default thread count unless ``--sb3-threads`` says otherwise (palaestra's learners
pick their own, ``torch_threads=1``); on a busy machine SB3's default can be far slower,
so the Results section records both.

    python benchmarks/sb3_cartpole.py                         # all three, 5 seeds each
    python benchmarks/sb3_cartpole.py --algos ppo,a2c --json out.json
    python benchmarks/sb3_cartpole.py --algos dqn --seeds 3 --sb3-threads 1
    python benchmarks/sb3_cartpole.py --algos ppo --palaestra-set gae_lambda=0.8
    python benchmarks/sb3_cartpole.py --algos ppo --libraries palaestra --seeds 24 \
        --throughput-repeats 0 --palaestra-set n_epochs=10   # tuning one side only
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))
ENV_ID = "CartPole-v1"
LIBRARIES = ("sb3", "palaestra")


@dataclass(frozen=True)
class Algo:
    """One algorithm: RL Zoo's CartPole-v1 entry (``hyperparams/<algo>.yml``)."""

    budget: int  # the Zoo's n_timesteps
    n_envs: int
    sb3_kwargs: dict[str, Any] = field(default_factory=dict)  # "lin_X" = linear schedule


ALGOS: dict[str, Algo] = {
    "ppo": Algo(
        100_000,
        8,
        {
            "n_steps": 32,
            "batch_size": 256,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "n_epochs": 20,
            "ent_coef": 0.0,
            "learning_rate": "lin_0.001",
            "clip_range": "lin_0.2",
        },
    ),
    "dqn": Algo(
        50_000,
        1,
        {
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1_000,
            "gamma": 0.99,
            "target_update_interval": 10,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04,
            "policy_kwargs": {"net_arch": [256, 256]},
        },
    ),
    "a2c": Algo(500_000, 8, {"ent_coef": 0.0}),
}


# ---------------------------------------------------------------------- worker side


def _sb3_model(algo: str, seed: int, threads: int | None) -> Any:
    """The SB3 model and its vector env, built as RL Zoo builds them."""
    import stable_baselines3
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    if threads is not None:
        torch.set_num_threads(threads)
    spec = ALGOS[algo]
    kwargs = {k: _zoo_value(v) for k, v in spec.sb3_kwargs.items()}
    env = make_vec_env(ENV_ID, n_envs=spec.n_envs, seed=seed)
    cls = getattr(stable_baselines3, algo.upper())
    return cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)


def _zoo_value(value: Any) -> Any:
    """RL Zoo's ``lin_X``: X times the remaining fraction of training, SB3's progress."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


class _SB3Actor:
    """An SB3 model seen through the one method palaestra's evaluation needs."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, obs: Any, deterministic: bool = True) -> int:
        return int(self.model.predict(obs, deterministic=deterministic)[0])


def _palaestra_agent(
    algo: str, seed: int, device: str, overrides: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """The registry's agent with its default config (plus ``overrides``), and a SAME_STEP
    vector env of its ``n_envs`` copies (the Zoo's count for these defaults)."""
    import dataclasses

    import gymnasium as gym

    from agents.registry import agent_class

    cls = agent_class(algo)
    names = {f.name for f in dataclasses.fields(cls.config_class)}
    fields = {"device": device} if "device" in names else {}
    config = cls.config_class(**{**fields, **(overrides or {})})
    n_envs = getattr(config, "n_envs", 1)
    env = gym.make_vec(
        ENV_ID,
        n_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )
    return cls(env.single_observation_space, env.single_action_space, config, seed=seed), env


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job (``mode`` "solve" or "throughput") and return its measurements."""
    import gymnasium as gym

    from agents.evaluation import SolveTimer

    lib, algo, seed, mode = job["lib"], job["algo"], job["seed"], job["mode"]
    steps = ALGOS[algo].budget if mode == "solve" else job["steps"]
    if lib == "sb3":
        from stable_baselines3.common.callbacks import BaseCallback

        model = _sb3_model(algo, seed, job.get("sb3_threads"))
        actor = _SB3Actor(model)

        class Hook(BaseCallback):
            def __init__(self, timer: SolveTimer) -> None:
                super().__init__()
                self.timer = timer

            def _on_step(self) -> bool:
                return self.timer.on_step(actor, self.num_timesteps)

        def learn(timer: SolveTimer | None) -> int:
            model.learn(steps, callback=None if timer is None else Hook(timer))
            return int(model.num_timesteps)

    else:
        agent, env = _palaestra_agent(algo, seed, job["device"], job.get("palaestra_set"))

        def learn(timer: SolveTimer | None) -> int:
            agent.learn(env, steps, timer)
            return int(agent.num_steps)

    if mode == "throughput":
        started, started_cpu = time.perf_counter(), time.process_time()
        done = learn(None)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        return {
            **job,
            "steps_done": done,
            "time_s": elapsed,
            "steps_per_s": done / elapsed,
            "steps_per_cpu_s": done / cpu,
        }
    eval_env = gym.make(ENV_ID)
    timer = SolveTimer(
        eval_env,
        job["threshold"],
        every=job["eval_every"],
        episodes=job["eval_episodes"],
        seed=10_000 + seed,  # the same evaluation episodes for both libraries
    )
    done = learn(timer)
    return {
        **job,
        "solved_at": timer.solved_at,
        "train_time_s": timer.train_time_s,
        "train_cpu_s": timer.train_cpu_s,
        "steps_done": done,
        "evaluations": timer.evaluations,
    }


# ---------------------------------------------------------------------- driver side


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` in a fresh worker process; its result, or an ``error`` entry."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {**job, "error": tail[0]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def palaestra_available(algo: str) -> str | None:
    """None when the palaestra agent can be imported, else why not."""
    from agents.registry import agent_class

    try:
        agent_class(algo)
    except (ImportError, AttributeError, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def summarise(results: list[dict[str, Any]], algo: str, lib: str) -> dict[str, Any]:
    """Medians over seeds for one (algorithm, library) pair."""
    solves = [r for r in results if r["mode"] == "solve" and r["algo"] == algo and r["lib"] == lib]
    runs = [
        r
        for r in results
        if r["mode"] == "throughput" and r["algo"] == algo and r["lib"] == lib and "error" not in r
    ]
    rates = [r["steps_per_s"] for r in runs]
    cpu_rates = [r["steps_per_cpu_s"] for r in runs]
    solved = [r for r in solves if r.get("solved_at") is not None]
    times = [r["train_time_s"] for r in solved]
    cpu_times = [r["train_cpu_s"] for r in solved]
    steps = [r["solved_at"] for r in solved]
    return {
        "algo": algo,
        "lib": lib,
        "seeds": len(solves),
        "solved": len(solved),
        "errors": [r["error"] for r in solves if "error" in r],
        "median_time_s": statistics.median(times) if times else None,
        "time_range_s": (min(times), max(times)) if times else None,
        "median_cpu_s": statistics.median(cpu_times) if cpu_times else None,
        "median_steps": statistics.median(steps) if steps else None,
        "steps_range": (min(steps), max(steps)) if steps else None,
        "steps_per_s": statistics.median(rates) if rates else None,
        "steps_per_cpu_s": statistics.median(cpu_rates) if cpu_rates else None,
    }


def table(summaries: list[dict[str, Any]]) -> str:
    """The Markdown table the Results section quotes."""
    lines = [
        "| algo | library | solved | median time to 475 (s) | time min - max (s) "
        "| median CPU s to 475 | median steps | steps min - max | train steps/s "
        "| train steps/CPU-s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in summaries:

        def fmt(x: Any, spec: str) -> str:
            return "-" if x is None else format(x, spec)

        t_range = "-" if s["time_range_s"] is None else "{:.2f} - {:.2f}".format(*s["time_range_s"])
        s_range = "-" if s["steps_range"] is None else "{:,} - {:,}".format(*s["steps_range"])
        lines.append(
            f"| {s['algo']} | {s['lib']} | {s['solved']}/{s['seeds']} "
            f"| {fmt(s['median_time_s'], '.2f')} | {t_range} | {fmt(s['median_cpu_s'], '.2f')} "
            f"| {fmt(s['median_steps'], ',.0f')} | {s_range} | {fmt(s['steps_per_s'], ',.0f')} "
            f"| {fmt(s['steps_per_cpu_s'], ',.0f')} |"
        )
    return "\n".join(lines)


def ratios(summaries: list[dict[str, Any]]) -> list[str]:
    """Per algorithm: palaestra's median time and throughput relative to SB3's."""
    out = []
    by = {(s["algo"], s["lib"]): s for s in summaries}
    for algo in dict.fromkeys(s["algo"] for s in summaries):
        sb3, pal = by.get((algo, "sb3")), by.get((algo, "palaestra"))
        if not sb3 or not pal:
            continue
        parts = []
        if sb3["median_time_s"] and pal["median_time_s"]:
            parts.append(f"median time {pal['median_time_s'] / sb3['median_time_s']:.2f}x SB3's")
        if sb3["median_cpu_s"] and pal["median_cpu_s"]:
            parts.append(f"median CPU time {pal['median_cpu_s'] / sb3['median_cpu_s']:.2f}x")
        if sb3["median_steps"] and pal["median_steps"]:
            parts.append(f"median steps {pal['median_steps'] / sb3['median_steps']:.2f}x")
        if sb3["steps_per_s"] and pal["steps_per_s"]:
            parts.append(f"throughput {pal['steps_per_s'] / sb3['steps_per_s']:.2f}x")
        if sb3["steps_per_cpu_s"] and pal["steps_per_cpu_s"]:
            parts.append(f"per CPU-s {pal['steps_per_cpu_s'] / sb3['steps_per_cpu_s']:.2f}x")
        if parts:
            out.append(f"{algo}: palaestra " + ", ".join(parts))
    return out


def machine() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        **{p: version(p) for p in ("torch", "stable-baselines3", "gymnasium", "numpy")},
    }


def _override_value(text: str) -> Any:
    """A ``--palaestra-set`` value: YAML, except that numbers YAML 1.1 reads as strings
    (``4e-3``, which it only takes as a float when written ``4.0e-3``) become floats."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", default="ppo,dqn,a2c", help="comma-separated: ppo,dqn,a2c")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=475.0)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument(
        "--throughput-steps", type=int, default=20_000, help="steps per throughput run"
    )
    parser.add_argument("--throughput-repeats", type=int, default=3)
    parser.add_argument(
        "--sb3-threads", type=int, default=None, help="torch threads for SB3 (default: torch's)"
    )
    parser.add_argument("--device", default="cpu", help="palaestra's device (default cpu)")
    parser.add_argument(
        "--palaestra-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of palaestra's agent config (YAML value), e.g. learning_rate=1e-3",
    )
    parser.add_argument(
        "--libraries",
        default=",".join(LIBRARIES),
        help="comma-separated: sb3,palaestra (default both; one alone is for tuning, not "
        "for comparisons)",
    )
    parser.add_argument("--json", type=Path, help="also write every run's result here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in ALGOS]
    if unknown:
        parser.error(f"unknown algos {unknown}; valid: {', '.join(ALGOS)}")
    wanted = [lib.strip() for lib in args.libraries.split(",") if lib.strip()]
    unknown = [lib for lib in wanted if lib not in LIBRARIES]
    if unknown or not wanted:
        parser.error(f"unknown libraries {unknown or wanted}; valid: {', '.join(LIBRARIES)}")
    libs: dict[str, tuple[str, ...]] = {}
    for algo in algos:
        missing = palaestra_available(algo) if "palaestra" in wanted else None
        if missing:
            print(f"note: palaestra {algo} skipped ({missing}); SB3 only", file=sys.stderr)
        libs[algo] = tuple(
            lib for lib in LIBRARIES if lib in wanted and not (lib == "palaestra" and missing)
        )
    overrides = {}
    for item in args.palaestra_set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--palaestra-set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _override_value(value)
    common = {
        "palaestra_set": overrides,
        "threshold": args.threshold,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
        "sb3_threads": args.sb3_threads,
        "device": args.device,
    }
    load_start = os.getloadavg()
    started = time.perf_counter()
    results: list[dict[str, Any]] = []

    def run(job: dict[str, Any]) -> None:
        result = run_job({**common, **job})
        results.append(result)
        if "error" in result:
            what = f"ERROR {result['error']}"
        elif job["mode"] == "solve":
            what = (
                f"solved at {result['solved_at']} in {result['train_time_s']:.2f} s "
                f"({result.get('train_cpu_s', float('nan')):.2f} CPU s)"
            )
        else:
            what = f"{result['steps_per_s']:,.0f} steps/s"
        print(
            f"{job['mode']:>10} {job['algo']} {job['lib']:>9} seed {job['seed']}: {what}",
            file=sys.stderr,
            flush=True,
        )

    for seed in range(args.seeds):
        for algo in algos:
            for lib in libs[algo]:
                run({"lib": lib, "algo": algo, "seed": seed, "mode": "solve"})
    for rep in range(args.throughput_repeats):
        for algo in algos:
            for lib in libs[algo]:
                run(
                    {
                        "lib": lib,
                        "algo": algo,
                        "seed": rep,
                        "mode": "throughput",
                        "steps": args.throughput_steps,
                    }
                )

    summaries = [summarise(results, algo, lib) for algo in algos for lib in libs[algo]]
    info = {
        **machine(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "wall_time_s": time.perf_counter() - started,
        "sb3_threads": args.sb3_threads or "torch default",
        "palaestra_set": overrides,
    }
    print(table(summaries))
    print()
    for line in ratios(summaries):
        print(line)
    print(
        f"\n{info['platform']}, {info['cpus']} CPUs, Python {info['python']}, torch "
        f"{info['torch']}, SB3 {info['stable-baselines3']} (threads: {info['sb3_threads']}), "
        f"gymnasium {info['gymnasium']}; palaestra config overrides: {overrides or 'none'}; "
        f"load average {load_start[0]:.1f} at start, "
        f"{info['load_average_end'][0]:.1f} at end; {info['wall_time_s']:.0f} s in all"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "summaries": summaries, "runs": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
