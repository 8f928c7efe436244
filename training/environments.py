"""Making environments by id: palaestra ids and any other Gymnasium id.

``import envs`` registers the ``palaestra/...`` ids. It happens lazily, here, so the training
command also works with plain Gymnasium ids (``FrozenLake-v1``) and so ``palaestra eval`` or
``list`` do not pay for imports they do not use.

Atari ids (ale-py's ``ALE/Pong-v5``, ``PongNoFrameskip-v4``...) are made by
:mod:`envs.atari`'s factories with the DQN-paper preprocessing, not by ``gymnasium.make``
alone; ale-py is imported (registering them) the first time such an id is asked for. Atari
envs come in two variants: the training one (a lost life ends the episode, rewards clipped)
that learners step, and the game as it is scored that evaluation and watching play.
``make_env(..., training=True)`` and ``make_vector_env`` give the first, ``make_env`` the
second by default. For every other env the two are the same.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import gymnasium as gym
from gymnasium.vector import AutoresetMode, VectorEnv
from pettingzoo import ParallelEnv

from training.config import ConfigError, one_line, unknown_key

if TYPE_CHECKING:
    from agents.models.wrappers import EnvWrapper

NAMESPACE = "palaestra"


def register_palaestra_envs() -> None:
    """Import ``envs`` so its ids are in Gymnasium's registry (no-op when already done)."""
    try:
        importlib.import_module("envs")
    except ModuleNotFoundError as e:
        if e.name != "envs":  # a real missing dependency inside envs: do not hide it
            raise


def multiagent_ids() -> list[str]:
    """palaestra's PettingZoo env ids (PettingZoo has no registry; ``envs.multiagent`` is one)."""
    try:
        from envs.multiagent import MULTIAGENT_IDS
    except ModuleNotFoundError as e:
        if e.name not in ("envs", "envs.multiagent"):
            raise
        return []
    return list(MULTIAGENT_IDS)


def is_multiagent(env_id: str) -> bool:
    """Whether ``env_id`` names a multi-agent (PettingZoo ``ParallelEnv``) env."""
    return env_id in multiagent_ids()


def register_atari_envs(env_id: str | None = None) -> bool:
    """Import ale-py, registering the ALE ids; whether that worked.

    Without a usable ale-py (missing, too old), an ``env_id`` spelled like an ALE id raises
    a ConfigError naming the ``atari`` extra, rather than "unknown env".
    """
    from envs.atari import import_ale, looks_like_ale_id

    try:
        import_ale()
    except gym.error.DependencyNotInstalled as e:
        if env_id is not None and looks_like_ale_id(env_id):
            raise ConfigError(f"env {env_id!r}: {one_line(e)}") from None
        return False
    return True


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` is an ALE game, made by :mod:`envs.atari` (registry lookup only:
    call after :func:`check_env_id`, which registers the ALE ids when needed)."""
    from envs.atari import is_atari_id

    return is_atari_id(env_id)


def env_family(env_id: str) -> str | None:
    """The family whose agent presets apply to ``env_id`` (``"atari"``), None for others
    (see ``ENV_PRESETS`` on agent configs, e.g. :class:`agents.deep.ppo.PPOConfig`)."""
    return "atari" if is_atari(env_id) else None


def env_ids(include_all: bool = False) -> list[str]:
    """Registered palaestra ids, multi-agent ones included, sorted (every Gymnasium id too
    with ``include_all``, the ALE ones when ale-py is installed)."""
    register_palaestra_envs()
    if include_all:
        register_atari_envs()
    ids = sorted(gym.registry)
    if not include_all:
        ids = [i for i in ids if gym.registry[i].namespace == NAMESPACE]
    return sorted(ids + multiagent_ids())


def check_env_id(env_id: str) -> None:
    """ConfigError with close matches when ``env_id`` is not registered."""
    register_palaestra_envs()
    if env_id in gym.registry or is_multiagent(env_id):
        return
    if register_atari_envs(env_id) and env_id in gym.registry:
        return
    known = list(gym.registry) + multiagent_ids()
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ConfigError(
        f"unknown env {env_id!r}; {hint}run `palaestra list` for the palaestra ids "
        f"(`palaestra list --all` for every Gymnasium id)"
    )


# Keyword arguments ``gymnasium.make`` takes itself rather than passing to the env.
MAKE_KWARGS = ("max_episode_steps", "disable_env_checker")


def env_creator(env_id: str) -> Any:
    """The class or function an id's entry point names (imports its module)."""
    if is_multiagent(env_id):
        from envs.multiagent import env_class

        return env_class(env_id)
    entry = gym.registry[env_id].entry_point
    return gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry


def env_kwarg_names(env_id: str) -> list[str] | None:
    """Keyword arguments the env accepts; None when its constructor takes ``**kwargs``.

    For an Atari id they are the fields of :class:`envs.atari.AtariSettings`.
    """
    if is_atari(env_id):
        from envs.atari import AtariSettings

        return AtariSettings.names()
    try:
        params = inspect.signature(env_creator(env_id)).parameters.values()
    except (TypeError, ValueError, ImportError, AttributeError, gym.error.Error):
        return None  # no signature to read; gymnasium.make reports the real problem
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [p.name for p in params if p.kind in named and p.name != "self"]
    return names if is_multiagent(env_id) else names + list(MAKE_KWARGS)


def check_env_kwargs(env_id: str, env_kwargs: Mapping[str, Any]) -> None:
    """ConfigError naming the first keyword the env does not take, with the valid ones."""
    valid = env_kwarg_names(env_id)
    if valid is None:
        return
    for key in env_kwargs:
        if key not in valid:
            raise unknown_key(key, valid, f"env {env_id!r}")


def checked_env_kwargs(env_id: str, env_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments for making ``env_id``, after checking the id and every key."""
    check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    check_env_kwargs(env_id, kwargs)
    return kwargs


@contextmanager
def env_errors(env_id: str, kwargs: Mapping[str, Any]) -> Iterator[None]:
    """Turn the errors an env constructor raises for bad arguments into one ConfigError."""
    try:
        yield
    except (TypeError, ValueError, gym.error.Error) as e:
        given = f" with {dict(kwargs)}" if kwargs else ""
        raise ConfigError(f"env {env_id!r} could not be made{given}: {one_line(e)}") from e


def make_env(
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    render_mode: str | None = None,
    training: bool = False,
    wrappers: Sequence[EnvWrapper] = (),
) -> gym.Env | ParallelEnv:
    """``gymnasium.make(env_id, **env_kwargs)``, or for a multi-agent id the PettingZoo
    ``ParallelEnv`` (``envs.multiagent.parallel_env``); bad ids or kwargs raise ConfigError.

    An Atari id gets :func:`envs.atari.make_atari_env` with ``env_kwargs`` as its
    :class:`~envs.atari.AtariSettings`: the game as it is scored by default (evaluation,
    watching), the training variant with ``training=True``.

    ``wrappers`` (a run's observation wrappers, :func:`training.wrappers.build_wrappers`)
    are put around the env in order; every env of a run is made here or in
    :func:`make_vector_env`, so all of them see the same observations.
    """
    kwargs = checked_env_kwargs(env_id, env_kwargs)
    with env_errors(env_id, kwargs):
        if is_multiagent(env_id):
            if wrappers:
                raise ConfigError(f"{env_id!r} is a multi-agent env; it takes no wrappers")
            from envs.multiagent import parallel_env

            return parallel_env(env_id, **_with_render_mode(kwargs, render_mode))
        if is_atari(env_id):
            from envs.atari import AtariSettings, make_atari_env

            env = make_atari_env(
                env_id, AtariSettings(**kwargs), training=training, render_mode=render_mode
            )
        else:
            env = gym.make(env_id, **_with_render_mode(kwargs, render_mode))
    for wrapper in wrappers:
        env = wrapper(env)
    return env


def _with_render_mode(kwargs: dict[str, Any], render_mode: str | None) -> dict[str, Any]:
    return kwargs if render_mode is None else {**kwargs, "render_mode": render_mode}


def make_vector_env(
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
    n_envs: int = 1,
    training: bool = True,
    wrappers: Sequence[EnvWrapper] = (),
) -> VectorEnv:
    """``n_envs`` copies of ``env_id`` stepped together; bad input raises ConfigError.

    The copies run in one process (``sync``): palaestra's envs step in microseconds, far
    less than what a subprocess round trip costs. Autoreset is ``SAME_STEP``, the convention
    every vectorised palaestra learner (and SB3's VecEnv) expects: the step that ends an
    episode returns the next episode's first observation and puts the last one in
    ``info["final_obs"]``, so truncated episodes can bootstrap from it. Seeding is left to
    the learner's first ``reset(seed=...)``, as with a single env.

    An Atari id gets :func:`envs.atari.make_atari_vector_env` instead: ale-py's C++
    ``AtariVectorEnv``, one thread per env up to the available cores (measured several
    times faster than copies of the Python pipeline, ``benchmarks/atari_throughput.py``),
    the training variant unless ``training=False``.

    Each copy gets ``wrappers`` (as :func:`make_env` puts them around a single env); the
    Atari vector env steps its copies in C++ and takes none.
    """
    if n_envs < 1:
        raise ConfigError(f"n_envs={n_envs}: expected an int >= 1")
    kwargs = checked_env_kwargs(env_id, env_kwargs)
    with env_errors(env_id, kwargs):
        if is_atari(env_id):
            if wrappers:
                raise ConfigError(
                    f"{env_id!r} is stepped by ale-py's AtariVectorEnv, which takes no "
                    f"wrappers; use an agent without n_envs, or no wrappers"
                )
            from envs.atari import AtariSettings, make_atari_vector_env

            return make_atari_vector_env(env_id, n_envs, AtariSettings(**kwargs), training=training)
        return gym.make_vec(
            env_id,
            num_envs=n_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            wrappers=list(wrappers),
            **kwargs,
        )


def env_spaces(env: gym.Env | VectorEnv | ParallelEnv) -> tuple[gym.Space, gym.Space]:
    """(observation space, action space) of one env, also when ``env`` is a vector env, and
    of one agent of a multi-agent env (its agents share their spaces)."""
    if isinstance(env, VectorEnv):
        return env.single_observation_space, env.single_action_space
    if isinstance(env, ParallelEnv):
        first = env.possible_agents[0]
        return env.observation_space(first), env.action_space(first)
    return env.observation_space, env.action_space


def can_render_rgb(env: gym.Env | VectorEnv) -> bool:
    """Whether ``env`` (or a vector env's copies) declares the ``rgb_array`` render mode."""
    return "rgb_array" in env.metadata.get("render_modes", [])


def render_fps(env: gym.Env, default: int = 4) -> int:
    """Frames per second the env asks renderers to play at."""
    return int(env.metadata.get("render_fps") or default)


def describe_env(env_id: str, width: int = 90) -> str:
    """One line about an env: palaestra's own description, else its docstring's first line."""
    register_palaestra_envs()
    try:
        from envs import env_descriptions
    except ImportError:
        env_descriptions = dict
    text = env_descriptions().get(env_id)
    if not text:
        try:
            doc = getattr(env_creator(env_id), "__doc__", None) or ""
        except (ImportError, AttributeError, gym.error.Error) as e:
            doc = f"(cannot load: {one_line(e)})"
        # Gymnasium docstrings open with markdown headings such as "## Description".
        lines = [line.strip() for line in doc.splitlines()]
        text = next((line for line in lines if line and not line.startswith("#")), "")
    return text if len(text) <= width else text[: width - 3] + "..."
