"""The ``palaestra`` command: train, eval, watch and list, over the Python API.

Every command is a thin layer over :mod:`training` functions, so a script and the shell do
exactly the same thing. Errors a user can fix (bad config, unknown option, missing run) are
printed as ONE line ``error: ...`` on stderr with exit code 2, and nothing is written.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from training.config import (
    ConfigError,
    TrainConfig,
    load_config_file,
    one_line,
    parse_assignment,
)
from training.regression.cli import regress

# click >= 8.2 raises this for a group called without a command (older versions exit 0).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OneLineErrors(click.Group):
    """A click group whose errors are one ``error: ...`` line instead of a usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except ConfigError as e:
            _fail(one_line(e), 2)
        except _NO_ARGS_IS_HELP as e:  # bare `palaestra`: the help text, not squeezed
            click.echo(e.format_message(), err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            _fail(one_line(Exception(e.format_message())), e.exit_code)
        except click.exceptions.Abort:
            _fail("interrupted", 130)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """palaestra: train, evaluate and watch reinforcement-learning agents."""


@cli.command()
@click.option("--env", "env_id", metavar="ID", help="Env id (palaestra/GridWorld-v0 default).")
@click.option("--agent", metavar="NAME", help="Agent name (q_learning default).")
@click.option("--steps", type=int, metavar="N", help="Total environment steps.")
@click.option("--seed", type=int, metavar="S", help="Seed for python, numpy, torch and env.")
@click.option(
    "--device",
    metavar="auto|cpu|cuda",
    help="Torch device of deep and SB3 agents (auto: CUDA when available; also cuda:N).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    metavar="FILE.yaml",
    help="YAML file with config keys (applied before the other options).",
)
@click.option("--out", metavar="DIR", help="Run directory (default runs/<env>_<agent>_s<seed>).")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key: steps=5000, agent.alpha=0.5, env.slippery=true.",
)
@click.option(
    "--resume",
    "resume_dir",
    type=str,
    metavar="RUN_DIR",
    help="Continue a run from its last checkpoint (only --steps may be given).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
def train(
    env_id: str | None,
    agent: str | None,
    steps: int | None,
    seed: int | None,
    device: str | None,
    config_file: str | None,
    out: str | None,
    assignments: tuple[str, ...],
    resume_dir: str | None,
    quiet: bool,
) -> None:
    """Train an agent; writes a run directory (config, metrics, checkpoints, curve, GIF)."""
    from training.run import resume
    from training.run import train as train_run

    if resume_dir is not None:
        given = {
            "--env": env_id,
            "--agent": agent,
            "--seed": seed,
            "--device": device,
            "--config": config_file,
            "--out": out,
            "--set": assignments,
        }
        extra = [name for name, value in given.items() if value not in (None, ())]
        if extra:
            raise click.UsageError(f"--resume takes only --steps, not {', '.join(extra)}")
        resume(resume_dir, steps=steps, verbose=not quiet)
        return
    config = load_config_file(config_file) if config_file else TrainConfig()
    options = {
        "env": env_id,
        "agent": agent,
        "steps": steps,
        "seed": seed,
        "device": device,
        "out": out,
    }
    overrides: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    overrides.update(parse_assignment(a) for a in assignments)
    train_run(config, verbose=not quiet, **overrides)


@cli.command()
@click.argument("experiment_file", metavar="FILE.yaml")
@click.option("--out", type=str, metavar="DIR", help="Experiment directory (default: the file's).")
@click.option(
    "--workers", type=click.IntRange(min=1), metavar="N", help="Parallel training processes."
)
def experiment(experiment_file: str, out: str | None, workers: int | None) -> None:
    """Run algorithms x envs x seeds (a YAML file, or a shipped example's name such as
    `multiagent`); writes results.md/json and a curves PNG per env."""
    from training.experiment import load_experiment, run_experiment

    run_experiment(load_experiment(experiment_file, out=out, workers=workers))


@cli.command(name="eval")
@click.argument("run_dir")
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    metavar="N",
    help="Greedy episodes (default: the run's eval_episodes).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_command(run_dir: str, episodes: int | None, as_json: bool) -> None:
    """Evaluate the greedy policy of a run's last checkpoint."""
    from training.evaluation import evaluate_run

    result = evaluate_run(run_dir, episodes=episodes)
    if as_json:
        keys = ("mean_return", "std_return", "success_rate", "mean_length")
        click.echo(json.dumps({k: result[k] for k in keys}))
        return
    click.echo(
        f"{run_dir}: return {result['mean_return']:.3f} ± {result['std_return']:.3f} over "
        f"{result['episodes']} episodes, success {result['success_rate']:.0%}, "
        f"mean length {result['mean_length']:.1f}"
    )


@cli.command()
@click.argument("run_dir")
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Greedy episodes to play.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    metavar="FILE.gif",
    help="Also save the episodes as a GIF.",
)
@click.option("--no-window", is_flag=True, help="Do not open a window (with --record).")
def watch(run_dir: str, episodes: int, record: str | None, no_window: bool) -> None:
    """Play a run's greedy policy in a pygame window and/or record it as a GIF."""
    from training.watch import watch as watch_run

    if no_window and record is None:
        raise click.UsageError("--no-window needs --record FILE.gif (nothing to do otherwise)")
    result = watch_run(run_dir, episodes=episodes, record=record, window=not no_window)
    for i, (ret, length) in enumerate(zip(result["returns"], result["lengths"], strict=True)):
        click.echo(f"episode {i + 1}: return {ret:.3f}, length {length}")
    if result["gif"] is not None:
        click.echo(f"wrote {result['gif']}")


@cli.command(name="list")
@click.option("--all", "include_all", is_flag=True, help="Include every Gymnasium env id.")
def list_command(include_all: bool) -> None:
    """List the registered env ids and the agent names."""
    from agents.registry import agent_names
    from training.environments import describe_env, env_ids

    ids = env_ids(include_all=include_all)
    width = max((len(i) for i in ids), default=0)
    click.echo("environments:")
    for env_id in ids:
        click.echo(f"  {env_id:<{width}}  {describe_env(env_id)}".rstrip())
    click.echo("agents:")
    for name in agent_names():
        click.echo(f"  {name}")


cli.add_command(regress)


def main() -> None:
    """Console-script entry point (``palaestra``)."""
    cli(prog_name="palaestra")


if __name__ == "__main__":
    main()
