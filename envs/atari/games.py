"""Which ids are Atari games, and the ALE ROM behind each.

The ids are ale-py's own (``ALE/Pong-v5``, ``PongNoFrameskip-v4``...): importing ``ale_py``
registers them with Gymnasium. palaestra does not register copies; it recognises an id as an
Atari game by its entry point and reads the ROM name from its registration.
"""

from __future__ import annotations

import difflib

import gymnasium as gym

from envs.atari.dependencies import import_ale

ALE_ENTRY_POINT = "ale_py.env:AtariEnv"
ALE_NAMESPACE = "ALE"


def looks_like_ale_id(env_id: str) -> bool:
    """Whether ``env_id`` is spelled like an ale-py id (``ALE/...``, ``...NoFrameskip-v4``),
    so that a missing ale-py, not a typo, is the likely reason it is unknown."""
    return env_id.startswith(f"{ALE_NAMESPACE}/") or "NoFrameskip-v" in env_id


def is_atari_id(env_id: str) -> bool:
    """Whether ``env_id`` is registered as an ALE game (looks at the registry only)."""
    spec = gym.registry.get(env_id)
    return spec is not None and spec.entry_point == ALE_ENTRY_POINT


def atari_ids() -> list[str]:
    """Every registered ALE id, sorted (imports ale-py; DependencyNotInstalled without it)."""
    import_ale()
    return sorted(i for i in gym.registry if is_atari_id(i))


def rom_name(env_id: str) -> str:
    """The ALE ROM (``"pong"``, ``"ms_pacman"``) of an Atari id.

    An id that is not an ALE game raises ``gymnasium.error.UnregisteredEnv`` listing the
    closest ALE ids, so ``ALE/Breakot-v5`` suggests ``ALE/Breakout-v5``.
    """
    known = atari_ids()
    if env_id not in known:
        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise gym.error.UnregisteredEnv(
            f"{env_id!r} is not an Atari (ALE) env id; {hint}ids look like ALE/Pong-v5 or "
            f"PongNoFrameskip-v4 ({len(known)} are registered)"
        )
    return str(gym.registry[env_id].kwargs["game"])
