"""``palaestra experiment FILE.yaml``: algorithms x envs x seeds, in parallel processes.

An experiment file names the envs, the algorithms (agent names with optional settings) and
the seeds; every combination is one ordinary training run (the same run directory as
``palaestra train``) under the experiment's directory. When all runs are done, the
experiment writes one results table (``results.md``, ``results.json``: per env and
algorithm, the mean and the interquartile mean of the final greedy evaluation's return over
the seeds, each with a stratified percentile-bootstrap 95 % confidence interval, and the
success rate) and one learning-curve PNG per env. The return is the team return for
multi-agent envs (the mean over agents of each agent's return), as training reports it::

    name: coordination          # optional (default: the file's stem)
    steps: 20000                # per run, unless an env or algorithm says otherwise
    eval_episodes: 20
    seeds: [0, 1, 2, 3, 4]
    envs:
      - palaestra/ClimbingGame-v0
      - id: palaestra/CoopCover-v0
        steps: 100000
        set: {env.max_cycles: 50}
    algorithms:
      - iql
      - agent: hysteretic_q
        label: hysteretic       # optional (default: the agent name)
        set: {agent.beta: 0.01}
        envs: [palaestra/ClimbingGame-v0]   # optional: only these envs

Every run's configuration is validated (the same checks as ``palaestra train``) before the
first directory is written, so a typo costs one error line and leaves nothing behind.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.common.io import atomic_write_text
from training.config import ConfigError, TrainConfig, apply_overrides, one_line
from training.metrics import METRICS_FILE, column, read_metrics
from training.plots import new_figure, rolling_mean, save_figure
from training.regression.statistics import iqm, stable_seed

EXPERIMENTS_DIR = Path(__file__).resolve().parent / "experiments"  # shipped examples
DEFAULT_ROOT = Path("runs") / "experiments"
RESULTS_MD = "results.md"
RESULTS_JSON = "results.json"
CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2_000
CURVE_POINTS = 50

_TOP_KEYS = ("name", "out", "steps", "eval_episodes", "seeds", "workers", "envs", "algorithms")
_ENV_KEYS = ("id", "steps", "set")
_ALGO_KEYS = ("agent", "label", "steps", "set", "envs")


@dataclass(frozen=True)
class EnvEntry:
    env_id: str
    steps: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlgoEntry:
    agent: str
    label: str
    steps: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    envs: tuple[str, ...] | None = None  # None: every env of the experiment


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment."""

    env_id: str
    label: str
    seed: int
    config: TrainConfig


@dataclass(frozen=True)
class Experiment:
    name: str
    out: Path
    seeds: tuple[int, ...]
    workers: int
    envs: tuple[EnvEntry, ...]
    algorithms: tuple[AlgoEntry, ...]
    runs: tuple[RunSpec, ...]


# --------------------------------------------------------------------------- parsing


def resolve_experiment_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a shipped example (``multiagent`` ->
    ``training/experiments/multiagent.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    examples = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))
    raise ConfigError(
        f"no experiment file {str(name_or_path)!r}; shipped examples: {', '.join(examples)}"
    )


def load_experiment(
    name_or_path: str | Path, *, out: str | Path | None = None, workers: int | None = None
) -> Experiment:
    """Read and validate an experiment file; ConfigError (one line) on the first problem."""
    path = resolve_experiment_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {one_line(e)}") from None
    return parse_experiment(
        data, source=str(path), default_name=path.stem, out=out, workers=workers
    )


def parse_experiment(
    data: Any,
    *,
    source: str = "experiment",
    default_name: str = "experiment",
    out: str | Path | None = None,
    workers: int | None = None,
) -> Experiment:
    """An :class:`Experiment` from the parsed YAML mapping ``data``."""
    data = _mapping(data, source, _TOP_KEYS)
    name = str(data.get("name", default_name))
    if not re.fullmatch(r"[\w.-]+", name):
        raise ConfigError(f"{source}: name {name!r} may hold letters, digits, '_', '-', '.'")
    seeds = tuple(_int_list(data.get("seeds", [0]), f"{source}: seeds"))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{source}: seeds must be a non-empty list of distinct ints")
    envs = tuple(_env_entry(e, source) for e in _list(data.get("envs"), f"{source}: envs"))
    algos = tuple(
        _algo_entry(a, source) for a in _list(data.get("algorithms"), f"{source}: algorithms")
    )
    _check_unique([e.env_id for e in envs], f"{source}: envs")
    _check_unique([a.label for a in algos], f"{source}: algorithm labels")
    env_ids = {e.env_id for e in envs}
    for algo in algos:
        unknown = sorted(set(algo.envs or ()) - env_ids)
        if unknown:
            raise ConfigError(
                f"{source}: algorithm {algo.label!r} names envs not in the experiment: "
                f"{', '.join(unknown)}"
            )
    n_workers = workers if workers is not None else data.get("workers", os.cpu_count() or 1)
    if not isinstance(n_workers, int) or n_workers < 1:
        raise ConfigError(f"{source}: workers must be an int >= 1, got {n_workers!r}")
    root = Path(out) if out is not None else Path(data.get("out", DEFAULT_ROOT / name))
    defaults = {k: data[k] for k in ("steps", "eval_episodes") if k in data}
    runs = tuple(_run_specs(envs, algos, seeds, root, defaults))
    if not runs:
        raise ConfigError(f"{source}: no runs: no algorithm applies to any env")
    return Experiment(name, root, seeds, n_workers, envs, algos, runs)


def _mapping(value: Any, where: str, keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(keys)}")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(keys)}")
    return dict(value)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list")
    return value


def _int_list(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError(f"{where}: expected a list of ints, got {value!r}")
    return value


def _check_unique(names: list[str], where: str) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ConfigError(f"{where}: {', '.join(sorted(seen))} listed twice")


def _settings(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: set must map keys (agent.x, env.y, ...) to values")
    return dict(value)


def _env_entry(value: Any, source: str) -> EnvEntry:
    if isinstance(value, str):
        return EnvEntry(value)
    entry = _mapping(value, f"{source}: env entry", _ENV_KEYS)
    if "id" not in entry:
        raise ConfigError(f"{source}: env entry {value!r} has no id")
    return EnvEntry(
        str(entry["id"]), entry.get("steps"), _settings(entry.get("set"), f"{source}: env")
    )


def _algo_entry(value: Any, source: str) -> AlgoEntry:
    if isinstance(value, str):
        return AlgoEntry(value, value)
    entry = _mapping(value, f"{source}: algorithm entry", _ALGO_KEYS)
    if "agent" not in entry:
        raise ConfigError(f"{source}: algorithm entry {value!r} has no agent")
    envs = entry.get("envs")
    if envs is not None and not (isinstance(envs, list) and all(isinstance(e, str) for e in envs)):
        raise ConfigError(f"{source}: algorithm {entry['agent']!r}: envs must be a list of ids")
    return AlgoEntry(
        agent=str(entry["agent"]),
        label=str(entry.get("label", entry["agent"])),
        steps=entry.get("steps"),
        settings=_settings(entry.get("set"), f"{source}: algorithm {entry['agent']!r}"),
        envs=tuple(envs) if envs is not None else None,
    )


def slug(text: str) -> str:
    """A directory name for an env id or label (``palaestra/CoopCover-v0`` -> ``CoopCover-v0``)."""
    return re.sub(r"[^\w.-]+", "_", text.split("/")[-1])


def _run_specs(
    envs: Sequence[EnvEntry],
    algos: Sequence[AlgoEntry],
    seeds: Sequence[int],
    root: Path,
    defaults: Mapping[str, Any],
) -> list[RunSpec]:
    specs = []
    for env in envs:
        for algo in algos:
            if algo.envs is not None and env.env_id not in algo.envs:
                continue
            for seed in seeds:
                overrides: dict[str, Any] = {**defaults, **env.settings, **algo.settings}
                steps = algo.steps if algo.steps is not None else env.steps
                if steps is not None:
                    overrides["steps"] = steps
                overrides.update(
                    env=env.env_id,
                    agent=algo.agent,
                    seed=seed,
                    out=str(root / slug(env.env_id) / slug(algo.label) / f"s{seed}"),
                )
                try:
                    config = apply_overrides(TrainConfig(), overrides)
                except ConfigError as e:
                    raise ConfigError(f"{env.env_id} x {algo.label}: {e}") from None
                specs.append(RunSpec(env.env_id, algo.label, seed, config))
    return specs


# ------------------------------------------------------------------------- running


def validate_runs(experiment: Experiment) -> None:
    """Every run's full check (env id and kwargs, agent, agent against env) before any write."""
    from training.run import build_agent, prepare

    existing = [spec.config.out for spec in experiment.runs if Path(str(spec.config.out)).exists()]
    if existing:
        raise ConfigError(
            f"{existing[0]} already exists; give the experiment another out directory "
            f"(--out) or remove the old one"
        )
    checked: set[tuple[str, str]] = set()
    for spec in experiment.runs:
        if (spec.env_id, spec.label) in checked:
            continue  # the seeds of a pair differ only in the seed
        checked.add((spec.env_id, spec.label))
        setup = prepare(spec.config)
        try:
            build_agent(setup)
        except ConfigError as e:
            raise ConfigError(f"{spec.env_id} x {spec.label}: {e}") from None
        finally:
            setup.env.close()


def _run_one(config: TrainConfig) -> dict[str, Any]:
    """One training run in a worker process; its eval summary (or the error) comes back."""
    from training.run import train

    try:
        result = train(config, verbose=False)
    except Exception as e:  # one failed run must not take the others down
        return {"error": f"{type(e).__name__}: {one_line(e)}"}
    return {"eval": result.eval, "run_dir": str(result.run_dir), "steps": result.num_steps}


def run_experiment(
    experiment: Experiment, *, report: Callable[[str], None] = print
) -> dict[str, Any]:
    """Validate, run every training run (``experiment.workers`` processes), then write the
    results table and the curves; returns what ``results.json`` holds."""
    validate_runs(experiment)
    experiment.out.mkdir(parents=True, exist_ok=True)
    outcomes: dict[int, dict[str, Any]] = {}
    total = len(experiment.runs)
    report(f"experiment {experiment.name}: {total} runs on {experiment.workers} worker(s)")
    # spawn: workers start clean (no torch thread pools or open envs copied by fork).
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(experiment.workers, mp_context=context) as pool:
        futures = {pool.submit(_run_one, spec.config): i for i, spec in enumerate(experiment.runs)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            i = futures[future]
            outcomes[i] = future.result()
            spec = experiment.runs[i]
            status = outcomes[i].get("error") or (
                f"return {outcomes[i]['eval']['mean_return']:.3f}, "
                f"success {outcomes[i]['eval']['success_rate']:.0%}"
            )
            report(f"  [{done}/{total}] {spec.env_id} x {spec.label} seed {spec.seed}: {status}")
    results = summarize(experiment, [outcomes[i] for i in range(total)])
    write_results(experiment, results)
    for env in experiment.envs:
        plot_env_curves(experiment, env.env_id)
    report(markdown_table(results))
    report(f"results: {experiment.out / RESULTS_MD}")
    return results


# ------------------------------------------------------------------------- results


def bootstrap_interval(
    scores: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile-bootstrap ``CONFIDENCE`` interval of ``statistic`` over resampled runs."""
    rows = rng.integers(0, len(scores), size=(BOOTSTRAP_SAMPLES, len(scores)))
    values = statistic(scores[rows])
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize(experiment: Experiment, outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per (env, algorithm): mean and IQM of the final evaluation return over seeds, with
    bootstrap intervals, and the mean success rate; failed runs are listed, not averaged."""
    rows = []
    for env in experiment.envs:
        for algo in experiment.algorithms:
            pairs = [
                (spec, outcome)
                for spec, outcome in zip(experiment.runs, outcomes, strict=True)
                if spec.env_id == env.env_id and spec.label == algo.label
            ]
            if not pairs:
                continue
            ok = [(s, o) for s, o in pairs if "eval" in o]
            errors = {s.seed: o["error"] for s, o in pairs if "error" in o}
            row: dict[str, Any] = {
                "env": env.env_id,
                "algorithm": algo.label,
                "agent": algo.agent,
                "seeds": [s.seed for s, _ in ok],
                "returns": [o["eval"]["mean_return"] for _, o in ok],
                "errors": errors,
            }
            if ok:
                returns = np.asarray(row["returns"], dtype=np.float64)
                rng = np.random.default_rng(stable_seed(f"{env.env_id}/{algo.label}"))
                row["mean"] = float(returns.mean())
                row["mean_ci"] = bootstrap_interval(returns, lambda x: x.mean(axis=1), rng)
                row["iqm"] = float(iqm(returns))
                row["iqm_ci"] = bootstrap_interval(returns, lambda x: iqm(x, axis=1), rng)
                row["success_rate"] = float(np.mean([o["eval"]["success_rate"] for _, o in ok]))
            rows.append(row)
    return {"name": experiment.name, "confidence": CONFIDENCE, "rows": rows}


def markdown_table(results: Mapping[str, Any]) -> str:
    pct = round(100 * results["confidence"])
    lines = [
        f"| env | algorithm | seeds | mean return [{pct}% CI] | IQM return [{pct}% CI] | success |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for row in results["rows"]:
        if "mean" not in row:
            lines.append(f"| {row['env']} | {row['algorithm']} | 0 | failed | failed | - |")
            continue
        lo, hi = row["mean_ci"]
        ilo, ihi = row["iqm_ci"]
        failed = f" ({len(row['errors'])} failed)" if row["errors"] else ""
        lines.append(
            f"| {row['env']} | {row['algorithm']} | {len(row['seeds'])}{failed} | "
            f"{row['mean']:.3f} [{lo:.3f}, {hi:.3f}] | {row['iqm']:.3f} [{ilo:.3f}, {ihi:.3f}] | "
            f"{row['success_rate']:.0%} |"
        )
    return "\n".join(lines)


def write_results(experiment: Experiment, results: Mapping[str, Any]) -> None:
    """``results.md`` and ``results.json`` in the experiment directory, written atomically."""
    header = (
        f"# Experiment {experiment.name}\n\nFinal greedy evaluation return per run, over seeds "
        f"{list(experiment.seeds)}; intervals: stratified percentile bootstrap over runs "
        f"({BOOTSTRAP_SAMPLES} resamples).\n\n"
    )
    atomic_write_text(experiment.out / RESULTS_MD, header + markdown_table(results) + "\n")
    atomic_write_text(experiment.out / RESULTS_JSON, json.dumps(results, indent=2) + "\n")


def learning_curves(
    run_dirs: Sequence[Path], points: int = CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """(steps grid, (runs, points) episode returns): each run's returns smoothed over a
    trailing window and read at a common grid of steps, so seeds can be averaged."""
    series = []
    for run_dir in run_dirs:
        rows = read_metrics(Path(run_dir) / METRICS_FILE)
        if rows:
            series.append((np.asarray(column(rows, "step")), np.asarray(column(rows, "return"))))
    if not series:
        return np.zeros(0), np.zeros((0, 0))
    last = min(steps[-1] for steps, _ in series)
    grid = np.linspace(last / points, last, points)
    curves = []
    for steps, returns in series:
        window = max(1, len(returns) // 20)
        curves.append(np.interp(grid, steps, rolling_mean(returns, window)))
    return grid, np.asarray(curves)


def plot_env_curves(experiment: Experiment, env_id: str) -> Path:
    """``<env>_curves.png``: per algorithm, the IQM over seeds of the smoothed training
    return against steps, with the runs' min-max band."""
    fig = new_figure((7, 4))
    ax = fig.add_subplot()
    for algo in experiment.algorithms:
        dirs = [
            Path(str(s.config.out))
            for s in experiment.runs
            if s.env_id == env_id and s.label == algo.label
        ]
        grid, curves = learning_curves(dirs)
        if len(curves) == 0:
            continue
        line = ax.plot(grid, iqm(curves), lw=2, label=f"{algo.label} (IQM of {len(curves)})")
        ax.fill_between(grid, curves.min(0), curves.max(0), alpha=0.2, color=line[0].get_color())
    ax.set_xlabel("environment steps")
    ax.set_ylabel("training return (smoothed)")
    ax.set_title(f"{experiment.name}: {env_id}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return save_figure(fig, experiment.out / f"{slug(env_id)}_curves.png")
