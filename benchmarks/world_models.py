"""World models (issue 9): DQN with model-generated transitions against plain DQN, a learned
model's prediction error per horizon, and a latent (World Models) controller against a
random policy.

1. Dyna. On CartPole-v1 and two gridworlds with ``coords`` observations ((row, column)):
   ``palaestra/GridWorld-v0``'s 5x8 map with walls and a hole, and an 8x8 room without
   either (``OpenRoom-8x8``, start and goal in opposite corners). Each arm learns for the
   whole budget with greedy evaluations on a schedule (CartPole: 20 episodes every 1,000
   steps, solved at a mean of 475, Gymnasium's threshold; gridworlds: one episode every
   250 steps, deterministic, solved at the value-iteration optimum). Arms:

   - ``dqn``: :class:`~agents.deep.dqn.DQN` with its defaults (RL Baselines3 Zoo's tuned
     CartPole DQN: 128 gradient steps of 64 rows every 256 env steps);
   - ``dyna_dqn``: :class:`~agents.models.DynaDQN` with its defaults: the same DQN, each
     update's batches half real and half imagined (3-step rollouts of a 5-member dynamics
     ensemble refitted every 250 steps, 256 of them branched from real states every 64
     steps, steps the members disagree on dropped), with twice the gradient steps, so it
     learns from as many real rows per update as ``dqn`` and as many imagined ones again;
   - ``dqn_256``: the control, DQN with 256 gradient steps of real rows only (as many
     updates as ``dyna_dqn``), which tells the imagined rows' worth apart from the extra
     updates'.

   Reported: steps to solve per seed and their median (a seed that never solves counts as
   more than the budget), both curves (median and quartiles over seeds) on one plot per env.
2. Horizon error. A :class:`~agents.models.DynamicsEnsemble` (defaults: 5 members, hidden
   (64, 64)) fitted on ``--horizon-train`` random-play steps; open-loop mean squared error
   1, 5 and 10 steps ahead on ``--horizon-test`` held-out random-play steps
   (:meth:`~agents.models.DynamicsEnsemble.prediction_error`).
3. Latent controller. :class:`~agents.models.WorldModelsAgent` (autoencoder + GRU + linear
   controller evolved in the dream) on 12x12 pixels of a 3x3 map with holes beside the
   start and the goal, ``--wm-steps`` real steps per seed; its greedy return in the real
   env against a uniformly random policy's mean over ``--random-episodes`` episodes.

Runs go to ``--workers`` processes, one torch thread each. About 20 minutes with 2 workers
on 2 cores (``--replot`` redraws the plot from a ``--json`` file):

    python benchmarks/world_models.py --json /tmp/world_models.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402, F401  (registers the palaestra ids)
from agents.base import Agent  # noqa: E402
from agents.common.io import atomic_write_text  # noqa: E402
from agents.deep.dqn import DQN, DQNConfig  # noqa: E402
from agents.evaluation import EvalCurve, run_episode  # noqa: E402
from agents.models import (  # noqa: E402
    DynaDQN,
    DynaDQNConfig,
    DynamicsConfig,
    DynamicsEnsemble,
    FitConfig,
    WorldModelsAgent,
    WorldModelsConfig,
    random_episode_returns,
    random_transitions,
)
from agents.models.training import seeded  # noqa: E402
from agents.tabular import ValueIteration  # noqa: E402
from benchmarks.common import median_steps, pyplot  # noqa: E402

ARMS = ("dqn", "dyna_dqn", "dqn_256")
LABELS = {
    "dqn": "DQN (defaults: 128 gradient steps / 256 env steps)",
    "dyna_dqn": "Dyna-DQN (defaults: 256 gradient steps, half of each batch imagined)",
    "dqn_256": "control: DQN with 256 gradient steps, all real",
}
COLORS = {"dqn": "k", "dyna_dqn": "tab:orange", "dqn_256": "tab:blue"}
GRID_KWARGS = {"observation_mode": "coords"}
# An 8x8 room without walls or holes, start and goal in opposite corners (14 moves).
OPEN_ROOM = ("S.......",) + ("........",) * 6 + (".......G",)
WM_MAP = ("S.H", "...", "H.G")
WM_KWARGS = {"observation_mode": "rgb", "obs_tile_size": 4, "map": WM_MAP, "max_episode_steps": 20}
# The README's world_models command spells out only the env; the agent runs on its defaults.
WM_SETTINGS: dict[str, Any] = {"device": "cpu", "torch_threads": 1}


@dataclass(frozen=True)
class Task:
    """One learning problem of the Dyna comparison."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any]
    steps: int
    eval_every: int
    eval_episodes: int


@dataclass
class Run:
    task: str
    arm: str
    seed: int
    steps: list[int]
    returns: list[float]
    solved_at: int | None
    seconds: float
    imagined: int


def tasks(args: argparse.Namespace) -> dict[str, Task]:
    return {
        "CartPole-v1": Task("CartPole-v1", "CartPole-v1", {}, args.cartpole_steps, 1_000, 20),
        "GridWorld-v0": Task(
            "GridWorld-v0", "palaestra/GridWorld-v0", GRID_KWARGS, args.grid_steps, 250, 1
        ),
        "OpenRoom-8x8": Task(
            "OpenRoom-8x8",
            "palaestra/GridWorld-v0",
            {**GRID_KWARGS, "map": OPEN_ROOM},
            args.grid_steps,
            250,
            1,
        ),
    }


def threshold(task: Task) -> float:
    """Gymnasium's reward threshold for CartPole; the value-iteration optimum otherwise."""
    if task.env_id == "CartPole-v1":
        return 475.0
    env = gym.make(task.env_id, **{**task.env_kwargs, "observation_mode": "index"})
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, 0)
    return run_episode(planner, env).episode_return - 1e-6


def make_arm(arm: str, env: gym.Env, seed: int) -> Agent:
    common = {"device": "cpu", "torch_threads": 1}
    if arm == "dyna_dqn":
        config = DynaDQNConfig(**common)
        return DynaDQN(env.observation_space, env.action_space, config, seed)
    gradient_steps = {"dqn": DQNConfig.gradient_steps, "dqn_256": 256}[arm]
    config = DQNConfig(gradient_steps=gradient_steps, **common)
    return DQN(env.observation_space, env.action_space, config, seed)


def run_dyna(task: Task, arm: str, seed: int, solve_at: float) -> Run:
    torch.set_num_threads(1)
    env = gym.make(task.env_id, **task.env_kwargs)
    agent = make_arm(arm, env, seed)
    curve = EvalCurve(
        gym.make(task.env_id, **task.env_kwargs),
        every=task.eval_every,
        episodes=task.eval_episodes,
        seed=10_000 + seed,
        threshold=solve_at,
    )
    start = time.perf_counter()
    agent.learn(env, task.steps, curve)
    seconds = time.perf_counter() - start
    steps = [s for s, _ in curve.evaluations]
    returns = [r for _, r in curve.evaluations]
    imagined = int(getattr(agent, "imagined_added", 0))
    return Run(task.name, arm, seed, steps, returns, curve.solved_at, seconds, imagined)


def dyna_summary(runs: list[Run]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for task in dict.fromkeys(r.task for r in runs):
        out[task] = {}
        for arm in ARMS:
            mine = sorted(
                (r for r in runs if r.task == task and r.arm == arm), key=lambda r: r.seed
            )
            if not mine:
                continue
            out[task][arm] = {
                "solved_at": [r.solved_at for r in mine],
                "median_solved_at": median_steps([r.solved_at for r in mine]),
                "solved": sum(r.solved_at is not None for r in mine),
                "seeds": len(mine),
                "final_return_mean": float(np.mean([r.returns[-1] for r in mine])),
                "seconds_mean": float(np.mean([r.seconds for r in mine])),
                "imagined_mean": float(np.mean([r.imagined for r in mine])),
            }
    return out


def fmt_steps(x: float | None) -> str:
    return "never" if x is None else f"{int(x):,}"


def dyna_table(summary: dict[str, dict[str, Any]], budgets: dict[str, int]) -> str:
    lines = [
        "| env | arm | steps to solve, per seed | median | final greedy return (mean) "
        "| s per run |",
        "|---|---|---|--:|--:|--:|",
    ]
    for task, arms in summary.items():
        for arm, s in arms.items():
            median = s["median_solved_at"]
            lines.append(
                f"| {task} (budget {budgets[task]:,}) | {LABELS[arm]} | "
                f"{', '.join(map(fmt_steps, s['solved_at']))} | "
                f"{fmt_steps(median) if median is not None else '> budget'} | "
                f"{s['final_return_mean']:.2f} | {s['seconds_mean']:.0f} |"
            )
    return "\n".join(lines)


def plot_dyna(runs: list[Run], thresholds: dict[str, float], path: Path) -> None:
    """Per env: the greedy return (mean over seeds, band: quartiles) and, below it, how
    many seeds have reached the solve threshold by each step (the median solve step is
    where the line passes half the seeds)."""
    plt = pyplot()
    names = list(dict.fromkeys(r.task for r in runs))
    fig, axes = plt.subplots(
        2,
        len(names),
        figsize=(6.5 * len(names), 6.5),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [2, 1]},
    )
    for col, task in enumerate(names):
        top, bottom = axes[0, col], axes[1, col]
        seeds = 0
        for arm in ARMS:
            mine = [r for r in runs if r.task == task and r.arm == arm]
            if not mine:
                continue
            seeds = len(mine)
            steps = np.asarray(mine[0].steps, dtype=float)
            returns = np.asarray([r.returns for r in mine])
            q25, q75 = np.percentile(returns, [25, 75], axis=0)
            solved = median_steps([r.solved_at for r in mine])
            label = f"{LABELS[arm]}; median solve {fmt_steps(solved)}"
            top.plot(steps, returns.mean(0), color=COLORS[arm], lw=2, label=label)
            top.fill_between(steps, q25, q75, color=COLORS[arm], alpha=0.12)
            first = [r.solved_at if r.solved_at is not None else np.inf for r in mine]
            reached = [sum(f <= s for f in first) for s in steps]
            bottom.step(steps, reached, where="post", color=COLORS[arm], lw=2)
        top.axhline(thresholds[task], color="green", ls="--", lw=1, label="solve threshold")
        top.set_title(f"{task}: greedy return, mean and quartiles of {seeds} seeds")
        top.grid(alpha=0.3)
        top.legend(loc="lower right", fontsize=7)
        bottom.axhline(seeds / 2, color="gray", ls=":", lw=1)
        bottom.set_ylim(-0.2, seeds + 0.2)
        bottom.set_ylabel("seeds solved so far")
        bottom.set_xlabel("real env steps")
        bottom.grid(alpha=0.3)
    axes[0, 0].set_ylabel("greedy evaluation return")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def horizon_errors(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Open-loop error of an ensemble fitted on random play, per horizon, per env."""
    torch.set_num_threads(1)
    out = {}
    setups = (
        ("CartPole-v1", {}, args.horizon_epochs_cartpole),
        ("palaestra/GridWorld-v0", GRID_KWARGS, args.horizon_epochs_grid),
    )
    for env_id, kwargs, epochs in setups:
        env = gym.make(env_id, **kwargs)
        train = random_transitions(env, args.horizon_train, seed=0)
        test = random_transitions(env, args.horizon_test, seed=1)
        with seeded(0):  # the weights must not depend on what ran before in the process
            model = DynamicsEnsemble(
                env.observation_space, int(env.action_space.n), DynamicsConfig()
            )
        fit = FitConfig(epochs=epochs, batch_size=256, learning_rate=3e-3, device="cpu")
        stats = model.fit(train, fit)
        errors = model.prediction_error(test, (1, 5, 10))
        out[env_id] = {
            "mse": {str(h): e for h, e in errors.items()},
            "epochs": epochs,
            "fit_seconds": stats.seconds,
        }
        print(f"horizon error {env_id}: {errors} ({epochs} epochs, {stats.seconds:.1f} s)")
    return out


def latent_controller(seed: int, steps: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    env = gym.make("palaestra/GridWorld-v0", **WM_KWARGS)
    agent = WorldModelsAgent(
        env.observation_space, env.action_space, WorldModelsConfig(**WM_SETTINGS), seed
    )
    start = time.perf_counter()
    agent.learn(env, steps)
    seconds = time.perf_counter() - start
    greedy = run_episode(agent, gym.make("palaestra/GridWorld-v0", **WM_KWARGS))
    return {"seed": seed, "return": greedy.episode_return, "seconds": seconds}


def random_baseline(episodes: int) -> float:
    env = gym.make("palaestra/GridWorld-v0", **WM_KWARGS)
    return float(random_episode_returns(env, episodes, seed=0).mean())


def optimum_wm() -> float:
    env = gym.make("palaestra/GridWorld-v0", **{**WM_KWARGS, "observation_mode": "index"})
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, 0)
    return run_episode(planner, env).episode_return


def in_parallel(workers: int, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    if workers <= 1:
        return [fn(*a) for fn, a in jobs]
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(fn, *a) for fn, a in jobs]
        return [f.result() for f in futures]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["dyna", "horizon", "latent"])
    parser.add_argument(
        "--envs", nargs="+", default=["CartPole-v1", "GridWorld-v0", "OpenRoom-8x8"]
    )
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cartpole-steps", type=int, default=30_000)
    parser.add_argument("--grid-steps", type=int, default=20_000)
    parser.add_argument("--horizon-train", type=int, default=5_000)
    parser.add_argument("--horizon-test", type=int, default=3_000)
    parser.add_argument("--horizon-epochs-cartpole", type=int, default=20)
    parser.add_argument("--horizon-epochs-grid", type=int, default=100)
    parser.add_argument("--wm-seeds", type=int, default=6)
    parser.add_argument("--wm-steps", type=int, default=2_000)
    parser.add_argument("--random-episodes", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plots", type=Path, default=REPO_ROOT / "benchmarks" / "plots")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--replot", type=Path, help="redraw the Dyna plot and table from this --json file"
    )
    args = parser.parse_args()
    if args.replot:
        saved = json.loads(args.replot.read_text())["dyna"]
        runs = [Run(**r) for r in saved["runs"]]
        budgets = {r.task: max(r.steps) for r in runs}
        print(dyna_table(dyna_summary(runs), budgets))
        plot_dyna(runs, saved["thresholds"], args.plots / "dyna_vs_dqn.png")
        return 0
    torch.set_num_threads(1)
    started = time.perf_counter()
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}

    if "dyna" in args.parts:
        chosen = [tasks(args)[name] for name in args.envs]
        thresholds = {t.name: threshold(t) for t in chosen}
        # Seed-major order: load changes on a shared machine hit every arm alike.
        jobs = [
            (run_dyna, (t, arm, seed, thresholds[t.name]))
            for t in chosen
            for seed in range(args.seeds)
            for arm in args.arms
        ]
        runs = in_parallel(args.workers, jobs)
        summary = dyna_summary(runs)
        budgets = {t.name: t.steps for t in chosen}
        print(dyna_table(summary, budgets))
        plot_dyna(runs, thresholds, args.plots / "dyna_vs_dqn.png")
        results["dyna"] = {
            "summary": summary,
            "thresholds": thresholds,
            "runs": [asdict(r) for r in runs],
        }

    if "horizon" in args.parts:
        results["horizon"] = horizon_errors(args)

    if "latent" in args.parts:
        jobs = [(latent_controller, (seed, args.wm_steps)) for seed in range(args.wm_seeds)]
        controllers = in_parallel(args.workers, jobs)
        random_mean = random_baseline(args.random_episodes)
        best = optimum_wm()
        reached = sum(c["return"] >= best - 0.05 for c in controllers)
        print(
            f"latent controller: returns {[round(c['return'], 2) for c in controllers]} "
            f"(optimum {best:.2f}; at the goal in {reached} of {len(controllers)} seeds); "
            f"random policy {random_mean:.3f} over {args.random_episodes} episodes"
        )
        results["latent"] = {
            "controllers": controllers,
            "random_mean": random_mean,
            "optimum": best,
            "reached": reached,
        }

    results["seconds"] = time.perf_counter() - started
    print(f"done in {results['seconds']:.0f} s")
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
