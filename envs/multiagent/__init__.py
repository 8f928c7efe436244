"""palaestra's PettingZoo multi-agent environments, registered as data.

PettingZoo has no global registry, so ids live here: ``parallel_env("palaestra/...")``
imports the env's module on demand (one env's missing dependency never breaks the others)
and ``aec_env`` wraps the result with PettingZoo's ``parallel_to_aec``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

_MATRIX = "envs.multiagent.matrix_games:MatrixGameEnv"

# id -> ("module:Class", default kwargs, one-line description for `palaestra list`)
MULTIAGENT_IDS: dict[str, tuple[str, dict[str, Any], str]] = {
    "palaestra/ClimbingGame-v0": (
        _MATRIX,
        {"game": "climbing"},
        "repeated 3x3 cooperative climbing game (Claus & Boutilier 1998); optimum (0, 0) = 11",
    ),
    "palaestra/PenaltyGame-v0": (
        _MATRIX,
        {"game": "penalty", "k": -10.0},
        "repeated 3x3 cooperative penalty game, miscoordination costs k (default -10)",
    ),
    "palaestra/StagHunt-v0": (
        _MATRIX,
        {"game": "stag_hunt"},
        "repeated 2x2 stag hunt: hunt the stag together (4 each) or a safe hare (3)",
    ),
    "palaestra/PrisonersDilemma-v0": (
        _MATRIX,
        {"game": "prisoners_dilemma"},
        "repeated 2x2 prisoner's dilemma, general-sum: each agent gets its own payoff",
    ),
    "palaestra/CoopCover-v0": (
        "envs.multiagent.cover:CoverEnv",
        {},
        "3 agents cover 3 random targets on a 7x7 grid; team reward, collisions cost",
    ),
    "palaestra/PredatorPrey-v0": (
        "envs.multiagent.predator_prey:PredatorPreyEnv",
        {},
        "predators must surround and catch a fleeing prey on a gridworld; team reward",
    ),
    "palaestra/GraphRouting-v0": (
        "envs.multiagent.routing:GraphRoutingEnv",
        {},
        "agents route to their destinations on a graph; shared edges get congested",
    ),
}


def is_multiagent_id(env_id: str) -> bool:
    """Whether ``env_id`` names one of the multi-agent envs (and not a Gymnasium one)."""
    return env_id in MULTIAGENT_IDS


def _env_class(env_id: str) -> type[ParallelEnv]:
    if env_id not in MULTIAGENT_IDS:
        raise ValueError(
            f"unknown multi-agent env id {env_id!r}; valid ids: " + ", ".join(MULTIAGENT_IDS)
        )
    module_name, class_name = MULTIAGENT_IDS[env_id][0].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def parallel_env(env_id: str, **kwargs: Any) -> ParallelEnv:
    """A new ``ParallelEnv`` for ``env_id``; ``kwargs`` override the registered defaults.

    An unknown id or keyword raises ValueError listing the valid ones.
    """
    cls = _env_class(env_id)
    valid = [
        name
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)} for {env_id}; valid: {', '.join(valid)}"
        )
    return cls(**{**MULTIAGENT_IDS[env_id][1], **kwargs})


def aec_env(env_id: str, **kwargs: Any) -> AECEnv:
    """The AEC form of :func:`parallel_env` (PettingZoo's ``parallel_to_aec``)."""
    return parallel_to_aec(parallel_env(env_id, **kwargs))


__all__ = ["MULTIAGENT_IDS", "aec_env", "is_multiagent_id", "parallel_env"]
