"""A regression case: what to train, for how long, with which seeds, and where to evaluate.

Cases are data, one YAML file each under ``tests/regression/cases/`` (the file name is the
case name), so adding a learner's case means writing a dozen lines rather than code::

    # tests/regression/cases/q_learning_gridworld.yaml
    description: Q-learning finds the 10-step path around the wall and the hole
    agent: q_learning
    env: palaestra/GridWorld-v0
    tier: fast
    steps: 6000
    eval_every: 500
    seeds: [0, 1, 2, 3, 4]
    tolerance: 0.1
    set:                       # the keys of `palaestra train --set`
      agent.alpha: 0.5

A case is turned into one :class:`~training.config.TrainConfig` per seed, so a case trains
exactly what ``palaestra train`` would with the same settings, and a typo in ``set`` fails
with the same one-line error.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from training.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    coerce,
    field_types,
    one_line,
    plain,
    unknown_key,
)
from training.evaluation import EVAL_SEED_OFFSET
from training.regression import CASES_DIR

Tier = Literal["fast", "slow"]
TIERS: tuple[str, ...] = ("fast", "slow")
CASE_SUFFIX = ".yaml"

# Keys ``set`` may not hold: the case's own fields decide them, and two places deciding the
# same thing would let a case say one step budget and train another.
_RESERVED = ("env", "agent", "steps", "seed", "device", "out", "eval_episodes")


@dataclass(frozen=True)
class RegressionCase:
    """One learner on one env, trained with several seeds and evaluated on a fixed schedule."""

    name: str
    """The case's name: its file name without ``.yaml``."""
    env: str
    """Gymnasium env id."""
    agent: str
    """Agent name from ``agents.registry``."""
    steps: int
    """Environment steps each seed trains for."""
    seeds: tuple[int, ...]
    """Training seeds; the baseline stores one curve per seed."""
    eval_every: int | None = None
    """Evaluate every this many steps (up to ``steps``); or give ``eval_steps``."""
    eval_steps: tuple[int, ...] = ()
    """Explicit evaluation points (increasing, each <= ``steps``); filled from ``eval_every``."""
    eval_episodes: int = 10
    """Greedy episodes per evaluation point; their mean return is the curve's value."""
    eval_seed: int = EVAL_SEED_OFFSET
    """Evaluation episode ``i`` is reset with ``eval_seed + i`` for every seed and point, so
    curves differ only through what the agent learned."""
    tolerance: float = 0.05
    """Return units a curve may fall below the baseline before a significant drop fails."""
    confidence: float = 0.99
    """Confidence of the whole case's test (split over its points and the AUC, Bonferroni).
    0.99 measured: under 1% false alarms from fresh seeds on the shipped cases, while every
    injected bug (step size / 100, wrong discount, less planning) was still caught."""
    bootstrap_samples: int = 5000
    """Bootstrap resamples behind each confidence interval."""
    tier: Tier = "fast"
    """``fast`` runs in CI (under 20 s on 2 cores); ``slow`` only with ``-m slow``."""
    device: str = "cpu"
    """Torch device; CPU is what makes a rerun bit-identical to its baseline."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """``set:`` in YAML: config keys as ``palaestra train --set`` takes them."""
    description: str = ""
    """What the case guards, in a sentence (shown by ``palaestra regress list``)."""

    def __post_init__(self) -> None:
        if not self.eval_steps and self.eval_every is not None and self.eval_every >= 1:
            points = tuple(range(self.eval_every, self.steps + 1, self.eval_every))
            if points and points[-1] != self.steps:
                points += (self.steps,)
            object.__setattr__(self, "eval_steps", points)
        object.__setattr__(self, "eval_steps", tuple(int(s) for s in self.eval_steps))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        self._validate()

    def _validate(self) -> None:
        where = f"regression case {self.name!r}"
        checks = [
            ("steps", self.steps >= 1, "an int >= 1"),
            ("eval_every", self.eval_every is None or self.eval_every >= 1, "an int >= 1"),
            (
                "seeds",
                len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds),
                "a non-empty list of distinct ints",
            ),
            ("eval_steps", bool(self.eval_steps), "given, or eval_every given"),
            (
                "eval_steps",
                list(self.eval_steps) == sorted(set(self.eval_steps)),
                "strictly increasing",
            ),
            (
                "eval_steps",
                all(1 <= s <= self.steps for s in self.eval_steps),
                f"within 1..steps ({self.steps})",
            ),
            ("eval_episodes", self.eval_episodes >= 1, "an int >= 1"),
            ("tolerance", self.tolerance >= 0, "a number >= 0"),
            ("confidence", 0 < self.confidence < 1, "in (0, 1)"),
            ("bootstrap_samples", self.bootstrap_samples >= 100, "an int >= 100"),
            ("tier", self.tier in TIERS, f"one of {', '.join(TIERS)}"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{where}: {key}={getattr(self, key)!r}: expected {expected}")
        for key in self.overrides:
            if key in _RESERVED:
                raise ConfigError(
                    f"{where}: set.{key} is a case field; write `{key}:` at the top level"
                )

    def train_config(self, seed: int) -> TrainConfig:
        """The run config of one seed (ConfigError for unknown keys or bad values)."""
        base = {
            "env": self.env,
            "agent": self.agent,
            "steps": self.steps,
            "seed": seed,
            "device": self.device,
        }
        return apply_overrides(TrainConfig(), {**base, **self.overrides})

    def definition(self) -> dict[str, Any]:
        """Everything that decides a seed's curve; a baseline is stale when this changes.

        Seeds, tolerance and the statistics settings are left out: changing them changes the
        verdict, not the curves, so the stored baseline stays valid.
        """
        return plain(
            {
                "env": self.env,
                "agent": self.agent,
                "steps": self.steps,
                "set": dict(sorted(self.overrides.items())),
                "eval_steps": list(self.eval_steps),
                "eval_episodes": self.eval_episodes,
                "eval_seed": self.eval_seed,
                "device": self.device,
            }
        )

    def with_changes(self, **changes: Any) -> RegressionCase:
        """A copy with some fields replaced; ``set`` entries given here are merged in.

        Tests use this to inject bugs through configuration and to draw fresh seeds.
        """
        overrides = {**self.overrides, **changes.pop("overrides", {})}
        if "eval_every" in changes and "eval_steps" not in changes:
            changes["eval_steps"] = ()  # recomputed from the new eval_every
        return dataclasses.replace(self, overrides=overrides, **changes)


# Field names as written in a case file (``set`` is the YAML spelling of ``overrides``).
def _file_keys() -> dict[str, str]:
    names = [f.name for f in dataclasses.fields(RegressionCase) if f.name != "name"]
    return {("set" if n == "overrides" else n): n for n in names}


def case_from_dict(name: str, data: Mapping[str, Any], source: str) -> RegressionCase:
    """A case from a parsed YAML mapping; unknown keys and wrong types are ConfigErrors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of case keys, got {type(data).__name__}")
    keys = _file_keys()
    types_ = field_types(RegressionCase)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in keys:
            raise ConfigError(f"{source}: {unknown_key(str(key), list(keys), 'regression case')}")
        attr = keys[key]
        kwargs[attr] = coerce(f"{source}: {key}", value, types_[attr])
    missing = [k for k in ("env", "agent", "steps", "seeds") if k not in kwargs]
    if missing:
        raise ConfigError(f"{source}: missing required key(s) {', '.join(missing)}")
    return RegressionCase(name=name, **kwargs)


def load_case(path: str | Path) -> RegressionCase:
    """Read one case file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read regression case {str(path)!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(
            f"regression case {str(path)!r} is not valid YAML: {one_line(e)}"
        ) from None
    return case_from_dict(path.stem, data or {}, str(path))


def load_cases(cases_dir: str | Path = CASES_DIR) -> dict[str, RegressionCase]:
    """Every case in ``cases_dir``, by name, sorted."""
    cases_dir = Path(cases_dir)
    if not cases_dir.is_dir():
        raise ConfigError(
            f"no regression cases: {str(cases_dir)!r} is not a directory "
            f"(run from the repository root or pass --cases DIR)"
        )
    paths = sorted(cases_dir.glob(f"*{CASE_SUFFIX}"))
    return {p.stem: load_case(p) for p in paths}


def select_cases(
    cases: Mapping[str, RegressionCase], names: Sequence[str] = (), tier: str | None = None
) -> list[RegressionCase]:
    """The named cases (all when none are named), keeping those of ``tier`` (None or "all":
    every tier). An unknown name is a ConfigError listing the valid ones."""
    if tier not in (None, "all", *TIERS):
        raise ConfigError(f"tier={tier!r}: expected one of all, {', '.join(TIERS)}")
    for name in names:
        if name not in cases:
            hint = difflib.get_close_matches(name, list(cases), n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"unknown regression case {name!r}{did_you_mean}; valid cases: "
                f"{', '.join(cases) or '(none)'}"
            )
    chosen: Iterable[RegressionCase] = (cases[n] for n in names) if names else cases.values()
    return [c for c in chosen if tier in (None, "all") or c.tier == tier]
