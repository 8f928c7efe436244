"""Unsupervised perception (issue 9): PPO from pixels with and without an autoencoder-
pretrained encoder, reconstruction error as an anomaly score, PCA of latent codes.

1. Sample efficiency. One pixel maze (``palaestra/Maze-v0``, default 9x9 seed 11 drawn at 4
   px a cell: 36x36x3 frames, 100-step time limit; optimum from value iteration). Arms, all
   with the same :class:`~agents.deep.ppo.PPOConfig` (the defaults, on CPU) and the same
   actor/critic MLPs:

   - ``scratch``: :class:`~agents.models.PretrainedEncoderPPO` given an *untrained*
     autoencoder's checkpoint, encoder trainable: the small conv encoder
     (:class:`~agents.models.ConvEncoder`) learned from scratch by PPO alone;
   - ``frozen``: the encoder of an autoencoder pretrained on random-play frames of the
     maze, frozen (feature extraction);
   - ``finetune``: the same pretrained encoder, fine-tuned by PPO;
   - ``nature``: plain :class:`~agents.deep.ppo.PPO` (its Nature CNN, 512 features), the
     learner a user would pick without this module.

   The autoencoder is pretrained once per seed (``--pretrain-frames`` random-play frames of
   the maze, seeded with the seed, ``--pretrain-epochs`` epochs: the same data, model and
   fit as :class:`~agents.models.PretrainedEncoderPPO` pretraining by itself) and serves
   both pretrained arms. Every ``--eval-every`` env steps (and before learning) one greedy
   episode is played (maze and policy are deterministic, so one episode is the exact greedy
   return). Reported per arm: the step at which the greedy return first equals the
   value-iteration optimum, and the step from which it stays optimal to the end of the run
   ("optimal for good"), with and without the pretraining frames counted as env steps (they
   are steps of random play in the same maze); medians count a seed that never gets there
   as more than the budget.
2. Anomaly score. An autoencoder (same size and fit) trained on 40 random-play frames from
   each of the 9x9 mazes of seeds 0-7; the ROC AUC of its reconstruction error separating
   fresh random-play frames of mazes 100-107 (other layouts, checked) from fresh random-play
   frames of the seen ones, also with only the seen frames it was never trained on (a frame
   is a function of the state, so fresh play repeats training pictures).
3. PCA of each seed's pretrained latent codes of every reachable cell of the benchmark maze,
   coloured by the agent's true row and column, marker area by the cell's share of that
   seed's pretraining frames; with the explained variance ratio and the R^2 of a linear fit
   of row and column from (PC1, PC2).

Plots go to ``benchmarks/plots/`` (``--plots``). About 9 minutes on one core:

    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/perception.py --json /tmp/perception.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402, F401  (registers the palaestra ids)
from agents.base import Agent, Callback  # noqa: E402
from agents.common.io import atomic_write_text  # noqa: E402
from agents.deep.ppo import PPO, PPOConfig  # noqa: E402
from agents.evaluation import run_episode  # noqa: E402
from agents.models import (  # noqa: E402
    AutoencoderConfig,
    ConvAutoencoder,
    FitConfig,
    PretrainedEncoderPPO,
    PretrainedEncoderPPOConfig,
    enumerate_frames,
    pca,
    random_play_frames,
    roc_auc,
    train_autoencoder,
)
from agents.models.training import seeded  # noqa: E402
from agents.tabular import ValueIteration  # noqa: E402
from benchmarks.common import median_steps, pyplot  # noqa: E402
from envs.gridworld.gridworld import GridWorldEnv  # noqa: E402
from envs.gridworld.maze import generate_maze  # noqa: E402

ARMS = ("scratch", "frozen", "finetune", "nature")
LABELS = {
    "scratch": "conv encoder from scratch (no pretraining)",
    "frozen": "pretrained encoder, frozen",
    "finetune": "pretrained encoder, fine-tuned",
    "nature": "plain PPO, Nature CNN",
}
COLORS = {"scratch": "tab:gray", "frozen": "tab:blue", "finetune": "tab:orange", "nature": "k"}
PRETRAINED = ("frozen", "finetune")
TOLERANCE = 1e-6


# ---------------------------------------------------------------------------- envs
def maze_env(args: argparse.Namespace, mode: str = "rgb") -> gym.Env:
    return gym.make(
        "palaestra/Maze-v0",
        maze_size=args.maze_size,
        maze_seed=args.maze_seed,
        observation_mode=mode,
        obs_tile_size=args.tile,
        max_episode_steps=args.max_episode_steps,
    )


def optimum(args: argparse.Namespace) -> tuple[float, list[tuple[int, int]]]:
    """Return of value iteration's greedy policy on the maze and the cells of its path."""
    env = maze_env(args, "index")
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, 0)
    width = env.unwrapped.layout.width
    obs, _ = env.reset(seed=0)
    path, total, done = [divmod(int(obs), width)], 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(planner.act(obs))
        total += float(reward)
        done = terminated or truncated
        path.append(divmod(int(obs), width))
    return total, path


# ----------------------------------------------------------------- sample efficiency
class GreedyCurve(Callback):
    """One greedy episode every ``every`` env steps (after the update that passes it)."""

    def __init__(self, env: gym.Env, every: int) -> None:
        self.env = env
        self.every = every
        self.next_eval = every
        self.steps: list[int] = []
        self.returns: list[float] = []

    def evaluate(self, agent: Agent, step: int) -> None:
        self.steps.append(step)
        self.returns.append(float(run_episode(agent, self.env).episode_return))

    def on_update(self, agent: Agent, metrics: dict[str, float]) -> None:
        if agent.num_steps >= self.next_eval:
            self.evaluate(agent, agent.num_steps)
            while self.next_eval <= agent.num_steps:
                self.next_eval += self.every


@dataclass
class Run:
    arm: str
    seed: int
    steps: list[int]
    returns: list[float]
    seconds: float
    solved_at: int | None
    """First evaluation step with the optimal greedy return."""
    stable_at: int | None
    """First evaluation step from which every later one is optimal (None: not optimal at
    the end)."""


# The PPO settings of every arm: PPOConfig's defaults, on one CPU thread.
PPO_SETTINGS: dict[str, Any] = {"device": "cpu", "torch_threads": 1}


def make_agent(
    arm: str, env: gym.Env, seed: int, checkpoint: Path, args: argparse.Namespace
) -> Agent:
    if arm == "nature":
        return PPO(env.observation_space, env.action_space, PPOConfig(**PPO_SETTINGS), seed)
    config = PretrainedEncoderPPOConfig(
        encoder_checkpoint=str(checkpoint), freeze_encoder=arm == "frozen", **PPO_SETTINGS
    )
    return PretrainedEncoderPPO(env.observation_space, env.action_space, config, seed)


def run_arm(arm: str, seed: int, checkpoint: Path, best: float, args: argparse.Namespace) -> Run:
    env = maze_env(args)
    agent = make_agent(arm, env, seed, checkpoint, args)
    curve = GreedyCurve(maze_env(args), args.eval_every)
    curve.evaluate(agent, 0)
    start = time.perf_counter()
    agent.learn(env, args.steps, curve)
    seconds = time.perf_counter() - start
    optimal = [r >= best - TOLERANCE for r in curve.returns]
    solved = [s for s, ok in zip(curve.steps, optimal, strict=True) if ok]
    stable = None
    for i in range(len(optimal) - 1, -1, -1):
        if not optimal[i]:
            break
        stable = curve.steps[i]
    env.close()
    return Run(
        arm, seed, curve.steps, curve.returns, seconds, solved[0] if solved else None, stable
    )


def code_spread(model: ConvAutoencoder, args: argparse.Namespace) -> float:
    """Mean distance between the codes of two different reachable agent cells of the maze:
    the scale of the differences a policy head reads from the encoder."""
    codes = model.encode(enumerate_frames(maze_env(args)).frames)
    dist = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
    return float(dist[~np.eye(len(codes), dtype=bool)].mean())


def pretrain(
    seed: int, path_cells: list[tuple[int, int]], out: Path, args: argparse.Namespace
) -> tuple[Path, ConvAutoencoder, dict]:
    """Train the seed's autoencoder on random play; report its cost, its code spread and how
    often each reachable cell (and each cell of the optimal path) appears in its frames."""
    env = maze_env(args)
    start = time.perf_counter()
    # The frames random_observations gives (the agent's own pretraining data), with labels.
    play_data = random_play_frames(env, args.pretrain_frames, seed=seed)
    frames = play_data.frames
    fit = FitConfig(
        epochs=args.pretrain_epochs,
        learning_rate=args.pretrain_lr,
        seed=seed,
        device="cpu",
        torch_threads=1,
    )
    model, stats = train_autoencoder(frames, None, fit)
    seconds = time.perf_counter() - start
    path = model.save(out / f"ae_seed{seed}.pt")
    report = {
        "frames": len(frames),
        "seconds": seconds,
        "fit_seconds": stats.fit.seconds,
        "initial_loss": stats.fit.initial_loss,
        "final_loss": stats.fit.final_loss,
        "code_spread": code_spread(model, args),
    }
    seen = Counter(map(tuple, play_data.agent.tolist()))
    reachable = enumerate_frames(maze_env(args)).agent.tolist()
    report["cell_visits"] = [[r, c, seen[(r, c)]] for r, c in reachable]
    report["reachable_cells_seen"] = sum(seen[(r, c)] > 0 for r, c in reachable)
    report["reachable_cells"] = len(reachable)
    report["path_visits"] = [seen[cell] for cell in path_cells]
    return path, model, report


def untrained(seed: int, out: Path, args: argparse.Namespace) -> tuple[Path, float]:
    config = AutoencoderConfig.from_space(maze_env(args).observation_space)
    with seeded(seed):
        model = ConvAutoencoder(config).eval()
    return model.save(out / f"untrained_seed{seed}.pt"), code_spread(model, args)


# ------------------------------------------------------------------------ anomaly
def distinct_mazes(seeds: list[int], size: int) -> set[tuple[str, ...]]:
    return {tuple(generate_maze(size, size, s)) for s in seeds}


def play(seeds: list[int], steps: int, play_seed: int, args: argparse.Namespace) -> np.ndarray:
    """``steps`` random-play frames from each maze of ``seeds``, play seeded per maze."""
    mazes = [
        GridWorldEnv(maze_size=args.maze_size, maze_seed=s, obs_tile_size=args.tile) for s in seeds
    ]
    return np.concatenate(
        [random_play_frames(m, steps, seed=play_seed + i).frames for i, m in enumerate(mazes)]
    )


def anomaly(args: argparse.Namespace) -> dict[str, Any]:
    seen, unseen = args.seen_mazes, args.unseen_mazes
    seen_layouts = distinct_mazes(seen, args.maze_size)
    unseen_layouts = distinct_mazes(unseen, args.maze_size)
    if seen_layouts & unseen_layouts:
        raise SystemExit("an 'unseen' maze seed gives a layout of a seen one; pick others")
    train_frames = play(seen, args.anomaly_train_frames, 0, args)
    fit = FitConfig(
        epochs=args.pretrain_epochs,
        learning_rate=args.pretrain_lr,
        seed=0,
        device="cpu",
        torch_threads=1,
    )
    model, stats = train_autoencoder(train_frames, None, fit)
    held_out = play(seen, args.anomaly_test_frames, 1000, args)
    other = play(unseen, args.anomaly_test_frames, 1000, args)
    seen_err = model.reconstruction_error(held_out)
    unseen_err = model.reconstruction_error(other)
    # Frames are a function of the state, so fresh play on a seen maze repeats training
    # pictures; the strict test keeps only the held-out frames never trained on.
    trained = {f.tobytes() for f in train_frames}
    novel = np.array([f.tobytes() not in trained for f in held_out])
    return {
        "seen_mazes": seen,
        "unseen_mazes": unseen,
        "seen_layouts": len(seen_layouts),
        "unseen_layouts": len(unseen_layouts),
        "train_frames": len(train_frames),
        "train_seconds": stats.fit.seconds,
        "final_loss": stats.fit.final_loss,
        "seen_frames": len(held_out),
        "seen_frames_not_trained_on": int(novel.sum()),
        "unseen_frames": len(other),
        "roc_auc": roc_auc(seen_err, unseen_err),
        "roc_auc_seen_frames_not_trained_on": (
            roc_auc(seen_err[novel], unseen_err) if novel.any() else None
        ),
        "seen_error_mean": float(seen_err.mean()),
        "seen_error_std": float(seen_err.std()),
        "seen_not_trained_on_error_mean": float(seen_err[novel].mean()) if novel.any() else None,
        "unseen_error_mean": float(unseen_err.mean()),
        "unseen_error_std": float(unseen_err.std()),
    }


# --------------------------------------------------------------------------- plots
def plot_curves(runs: list[Run], best: float, pretrain_frames: int, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(
        2, 2, figsize=(12, 7.5), sharex="col", gridspec_kw={"height_ratios": [2, 1]}
    )
    n_seeds = len({r.seed for r in runs})
    for col, counted in enumerate((False, True)):
        top, bottom = axes[0, col], axes[1, col]
        for arm in ARMS:
            mine = [r for r in runs if r.arm == arm]
            if not mine:
                continue
            steps = np.asarray(mine[0].steps, dtype=float)
            if counted and arm in PRETRAINED:
                steps = steps + pretrain_frames
            returns = np.asarray([r.returns for r in mine])
            color = COLORS[arm]
            top.plot(steps, returns.mean(0), color=color, lw=2, label=f"{LABELS[arm]}")
            top.fill_between(steps, returns.min(0), returns.max(0), color=color, alpha=0.08)
            at_best = (returns >= best - TOLERANCE).sum(0)
            bottom.step(steps, at_best, where="post", color=color, lw=2)
        top.axhline(best, color="green", ls="--", lw=1, label=f"optimum {best:.2f}")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
        bottom.set_ylim(-0.2, n_seeds + 0.2)
        bottom.set_xlabel(
            "env steps incl. random-play pretraining frames" if counted else "PPO env steps"
        )
    axes[0, 0].set_ylabel("greedy return: mean, band min-max")
    axes[1, 0].set_ylabel(f"seeds at the optimum (of {n_seeds})")
    axes[0, 0].set_title(f"PPO from pixels, {n_seeds} seeds")
    axes[0, 1].set_title(f"pretrained arms shifted by their {pretrain_frames} pretraining frames")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def latent_pca(
    models: dict[int, ConvAutoencoder],
    pretraining: dict[int, dict[str, Any]],
    args: argparse.Namespace,
    path: Path,
) -> dict[int, dict[str, Any]]:
    """PCA of each seed's pretrained codes of every reachable cell of the maze, plotted
    coloured by the agent's row (top) and column (bottom), marker area by how often the
    cell appears in the seed's pretraining frames (x: never); per seed the explained
    variance ratio and the R^2 of a linear fit of the row and column from (PC1, PC2)."""
    plt = pyplot()
    data = enumerate_frames(maze_env(args))
    target = data.agent.astype(float)
    fig, axes = plt.subplots(2, len(models), figsize=(3.2 * len(models) + 1, 6), squeeze=False)
    report = {}
    for col, (seed, model) in enumerate(models.items()):
        result = pca(model.encode(data.frames), 2)
        xy = result.projected
        design = np.c_[xy, np.ones(len(xy))]
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        resid = ((design @ coef - target) ** 2).sum(0)
        r2 = 1 - resid / ((target - target.mean(0)) ** 2).sum(0)
        evr = result.explained_variance_ratio
        report[seed] = {
            "explained_variance_ratio": evr.tolist(),
            "r2_row": float(r2[0]),
            "r2_col": float(r2[1]),
        }
        visits = {(r, c): n for r, c, n in pretraining[seed]["cell_visits"]}
        counts = np.array([visits[(r, c)] for r, c in data.agent.tolist()])
        size = 8 + 120 * np.sqrt(counts / max(counts.max(), 1))
        never = counts == 0
        for row, name in enumerate(("row", "column")):
            ax = axes[row, col]
            colour = target[:, row]
            lim = {"cmap": "viridis", "vmin": target[:, row].min(), "vmax": target[:, row].max()}
            points = ax.scatter(
                xy[~never, 0], xy[~never, 1], c=colour[~never], s=size[~never], **lim
            )
            ax.scatter(xy[never, 0], xy[never, 1], c=colour[never], marker="x", s=30, **lim)
            ax.set_title(f"seed {seed}: by agent {name}, R2 {r2[row]:.2f}", fontsize=9)
            ax.set_xlabel(f"PC1 ({evr[0]:.0%})", fontsize=8)
            ax.set_ylabel(f"PC2 ({evr[1]:.0%})", fontsize=8)
            ax.tick_params(labelsize=7)
            if col == len(models) - 1:
                fig.colorbar(points, ax=ax, label=f"agent {name}")
    fig.suptitle(
        f"latent codes of the {len(data)} reachable agent cells of the {args.maze_size}x"
        f"{args.maze_size} maze (seed {args.maze_seed}), each seed's pretrained encoder\n"
        "marker area: the cell's share of that seed's pretraining frames (x: never in them)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return report


# ---------------------------------------------------------------------------- report
def summary(runs: list[Run], arm: str, shift: int) -> dict[str, Any]:
    mine = [r for r in runs if r.arm == arm]
    first = median_steps([r.solved_at for r in mine])
    stable = median_steps([r.stable_at for r in mine])
    return {
        "seeds": len(mine),
        "ever_optimal": sum(r.solved_at is not None for r in mine),
        "optimal_at_end": sum(r.stable_at is not None for r in mine),
        "solved_at": [r.solved_at for r in mine],
        "stable_at": [r.stable_at for r in mine],
        "median_first_optimal": first,
        "median_first_optimal_with_pretraining": None if first is None else first + shift,
        "median_stable_optimal": stable,
        "median_stable_optimal_with_pretraining": None if stable is None else stable + shift,
        "mean_return_over_curve": float(np.mean([np.mean(r.returns) for r in mine])),
        "final_return_mean": float(np.mean([r.returns[-1] for r in mine])),
        "ppo_seconds_mean": float(np.mean([r.seconds for r in mine])),
    }


def fmt_steps(x: float | None) -> str:
    return "-" if x is None else f"{int(x):,}"


def table(summaries: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| arm | optimal ever / at end | first optimal: median (+ pretraining) | per seed "
        "| optimal for good from: median (+ pretraining) | per seed "
        "| mean greedy return over the curve | final (mean) | PPO s/run |",
        "|---|--:|--:|---|--:|---|--:|--:|--:|",
    ]
    for arm, s in summaries.items():
        first = fmt_steps(s["median_first_optimal"])
        stable = fmt_steps(s["median_stable_optimal"])
        if arm in PRETRAINED:
            first += f" ({fmt_steps(s['median_first_optimal_with_pretraining'])})"
            stable += f" ({fmt_steps(s['median_stable_optimal_with_pretraining'])})"
        lines.append(
            f"| {LABELS[arm]} | {s['ever_optimal']} / {s['optimal_at_end']} of {s['seeds']} | "
            f"{first} | {', '.join(map(fmt_steps, s['solved_at']))} | "
            f"{stable} | {', '.join(map(fmt_steps, s['stable_at']))} | "
            f"{s['mean_return_over_curve']:.3f} | {s['final_return_mean']:.3f} | "
            f"{s['ppo_seconds_mean']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10_240, help="PPO env steps per run")
    parser.add_argument("--eval-every", type=int, default=512)
    parser.add_argument("--maze-size", type=int, default=9)
    parser.add_argument("--maze-seed", type=int, default=11)
    parser.add_argument("--tile", type=int, default=4, help="pixels per cell")
    parser.add_argument("--max-episode-steps", type=int, default=100)
    parser.add_argument("--pretrain-frames", type=int, default=2000)
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--pretrain-lr", type=float, default=FitConfig().learning_rate)
    parser.add_argument("--seen-mazes", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--unseen-mazes", type=int, nargs="+", default=list(range(100, 108)))
    parser.add_argument("--anomaly-train-frames", type=int, default=40, help="per seen maze")
    parser.add_argument("--anomaly-test-frames", type=int, default=100, help="per maze")
    parser.add_argument("--skip-anomaly", action="store_true")
    parser.add_argument("--plots", type=Path, default=REPO_ROOT / "benchmarks" / "plots")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    best, path_cells = optimum(args)
    best_length = len(path_cells) - 1
    frame_shape = maze_env(args).observation_space.shape
    print(
        f"maze {args.maze_size}x{args.maze_size} seed {args.maze_seed}, frames {frame_shape}, "
        f"optimum {best:.3f} in {best_length} steps",
        flush=True,
    )
    runs: list[Run] = []
    pretraining: dict[int, dict[str, Any]] = {}
    untrained_spread: dict[int, float] = {}
    models: dict[int, ConvAutoencoder] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for seed in range(args.seeds):
            # Seed-major order: load changes on the shared machine hit every arm alike.
            scratch_ckpt, untrained_spread[seed] = untrained(seed, out, args)
            ckpt, models[seed], pretraining[seed] = pretrain(seed, path_cells, out, args)
            p = pretraining[seed]
            print(
                f"seed {seed} pretraining: {p['frames']} frames, {p['seconds']:.1f} s, "
                f"loss {p['initial_loss']:.4f} -> {p['final_loss']:.5f}, "
                f"code spread {p['code_spread']:.3f} (untrained {untrained_spread[seed]:.3f}); "
                f"{p['reachable_cells_seen']} of {p['reachable_cells']} reachable cells in its "
                f"frames; frames per optimal-path cell, start to goal: {p['path_visits']}",
                flush=True,
            )
            for arm in args.arms:
                run = run_arm(arm, seed, scratch_ckpt if arm == "scratch" else ckpt, best, args)
                runs.append(run)
                print(
                    f"seed {seed} {arm:8s} first optimal at {run.solved_at}, optimal for good "
                    f"from {run.stable_at}, {run.seconds:.1f} s",
                    flush=True,
                )
    plot_curves(runs, best, args.pretrain_frames, args.plots / "perception_ppo_pixels.png")
    pca_report = latent_pca(models, pretraining, args, args.plots / "perception_latent_pca.png")
    anomaly_report = None if args.skip_anomaly else anomaly(args)
    summaries = {
        arm: summary(runs, arm, args.pretrain_frames if arm in PRETRAINED else 0)
        for arm in args.arms
    }
    total = time.perf_counter() - started

    print()
    print(table(summaries))
    spreads = [p["code_spread"] for p in pretraining.values()]
    seconds = [p["seconds"] for p in pretraining.values()]
    print(
        f"\npretraining per seed: {args.pretrain_frames} random-play frames (env steps), "
        f"{args.pretrain_epochs} epochs, {statistics.mean(seconds):.1f} s mean "
        f"({min(seconds):.1f} - {max(seconds):.1f}), final loss "
        + ", ".join(f"{p['final_loss']:.5f}" for p in pretraining.values())
        + "; code spread "
        + ", ".join(f"{x:.3f}" for x in spreads)
        + " (untrained encoders "
        + ", ".join(f"{x:.3f}" for x in untrained_spread.values())
        + ")"
    )
    for seed, p in pca_report.items():
        evr = p["explained_variance_ratio"]
        print(
            f"latent PCA seed {seed}: explained variance ratio PC1 {evr[0]:.3f}, PC2 "
            f"{evr[1]:.3f}; R^2 of the agent's row {p['r2_row']:.3f}, column "
            f"{p['r2_col']:.3f} from (PC1, PC2)"
        )
    if anomaly_report is not None:
        a = anomaly_report
        strict = a["roc_auc_seen_frames_not_trained_on"]
        print(
            f"anomaly: ROC AUC {a['roc_auc']:.3f} (seen frames never trained on only: "
            f"{'-' if strict is None else f'{strict:.3f}'}); reconstruction error seen mazes "
            f"{a['seen_error_mean']:.5f} +- {a['seen_error_std']:.5f} ({a['seen_frames']} "
            f"frames; {a['seen_frames_not_trained_on']} never trained on: "
            f"{a['seen_not_trained_on_error_mean'] or float('nan'):.5f}), unseen "
            f"{a['unseen_error_mean']:.5f} +- {a['unseen_error_std']:.5f} "
            f"({a['unseen_frames']} frames); AE trained on {a['train_frames']} frames of "
            f"{a['seen_layouts']} layouts in {a['train_seconds']:.1f} s"
        )
    print(f"total {total:.0f} s")
    if args.json is not None:
        payload = {
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "frame_shape": list(frame_shape),
            "optimum": {"return": best, "length": best_length, "path": path_cells},
            "summary": summaries,
            "runs": [vars(r) for r in runs],
            "pretraining": pretraining,
            "untrained_code_spread": untrained_spread,
            "latent_pca": pca_report,
            "anomaly": anomaly_report,
            "total_seconds": total,
        }
        atomic_write_text(args.json, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
