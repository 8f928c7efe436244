"""Many copies of the Atari pipeline stepped in ale-py's C++ threads (``AtariVectorEnv``).

``AtariVectorEnv`` runs the emulator and the whole DQN-paper preprocessing in C++ worker
threads, several times faster than stepping Python-wrapped envs one after the other
(``benchmarks/atari_throughput.py`` measures it). :func:`make_atari_vector_env` builds it
from the same :class:`~envs.atari.factory.AtariSettings` as the single env, and
:class:`AtariVectorPipeline` makes it behave as palaestra's learners expect a vector env to:

- ``SAME_STEP`` autoreset with ``info["final_obs"]`` (and its ``_final_obs`` mask) for every
  env whose episode ended, episodes ended by a lost life included (``AtariVectorEnv``
  writes final observations only for envs it resets; a lost life does not reset the game,
  so that episode's last observation is the one returned);
- float rewards, as Gymnasium's vector envs return them (ALE's are int32);
- ``reset(seed=...)`` with an int or one seed per env, ``None`` entries keeping the env's
  current random stream, as Gymnasium's ``SyncVectorEnv`` takes them.

The observations are those of :func:`~envs.atari.factory.make_atari_env` with the same
settings: the same preprocessing steps in the same order, including the zero-padded frame
stack, the FIRE frame before the no-ops and the time limit counted from the first
observation. With
``noop_max=0`` and no sticky actions the two paths play identical games (a test steps both);
the no-op counts come from different random generators (C++'s mt19937 against the env's
numpy generator), so with no-ops the two start the same games at different frames. One
quirk of ``AtariVectorEnv`` remains: on a time-limit truncation it stops before grabbing
the step's last frames, so the newest frame of that final observation is pooled from the
previous step's buffers (the single env's is the true frame).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from envs.atari.factory import AtariSettings
from envs.atari.games import rom_name
from envs.atari.wrappers import ATARI_FPS


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity masks
        return os.cpu_count() or 1


def make_atari_vector_env(
    env_id: str,
    n_envs: int,
    settings: AtariSettings | None = None,
    *,
    training: bool = True,
    num_threads: int | None = None,
) -> AtariVectorPipeline:
    """``n_envs`` copies of ``make_atari_env(env_id, settings, training=training)``, stepped
    by ``num_threads`` C++ threads (default: one per env, at most one per available core).

    Copy ``i`` of ``reset(seed=s)`` is seeded with ``s + i``. Raises as
    :func:`~envs.atari.factory.make_atari_env` does, and ``ValueError`` for ``n_envs`` or
    ``num_threads`` below 1.
    """
    settings = settings or AtariSettings()
    if n_envs < 1:
        raise ValueError(f"n_envs={n_envs}: expected an int >= 1")
    if num_threads is None:
        num_threads = min(n_envs, available_cores())
    if num_threads < 1:
        raise ValueError(f"num_threads={num_threads}: expected an int >= 1")
    game = rom_name(env_id)  # checks the id (imports ale-py)
    from ale_py.vector_env import AtariVectorEnv

    venv = AtariVectorEnv(
        game,
        n_envs,
        num_threads=num_threads,
        max_num_frames_per_episode=settings.max_num_frames_per_episode,
        repeat_action_probability=settings.repeat_action_probability,
        full_action_space=settings.full_action_space,
        autoreset_mode=AutoresetMode.SAME_STEP,
        img_height=settings.screen_size,
        img_width=settings.screen_size,
        stack_num=settings.frame_stack,
        frameskip=settings.frame_skip,
        noop_max=settings.noop_max,
        use_fire_reset=settings.fire_reset,
        # AtariVectorEnv's own episodic_life resets the whole game on a lost life;
        # life_loss_info ends the episode and lets the game go on, as EpisodicLife does.
        life_loss_info=training and settings.episodic_life,
        reward_clipping=training and settings.clip_rewards,
    )
    return AtariVectorPipeline(venv, settings.frame_skip)


class AtariVectorPipeline(VectorWrapper):
    """An ``AtariVectorEnv`` (``SAME_STEP`` autoreset) with palaestra's vector conventions
    (see the module docstring).

    ``metadata["render_modes"]`` lists what each copy can render, as ``SyncVectorEnv``'s
    does: the trainer records its GIF with a single env of the same id.
    """

    def __init__(self, env: VectorEnv, frame_skip: int) -> None:
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"AtariVectorPipeline needs SAME_STEP autoreset, got {mode}")
        self.metadata = {
            "autoreset_mode": AutoresetMode.SAME_STEP,
            "render_modes": ["rgb_array"],
            "render_fps": max(1, round(ATARI_FPS / frame_skip)),
        }
        self._lives = np.zeros(self.num_envs, dtype=np.int64)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=self._ale_seed(seed), options=options)
        self._lives = np.array(info["lives"], dtype=np.int64)
        return obs, info

    def _ale_seed(self, seed: int | Sequence[int | None] | None) -> int | np.ndarray | None:
        """``seed`` as AtariVectorEnv takes it: an int, or one per env with -1 for "keep"."""
        if seed is None or isinstance(seed, (int, np.integer)):
            return None if seed is None else int(seed)
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} envs")
        if all(s is None for s in seeds):
            return None
        if any(s is not None and s < 0 for s in seeds):
            raise ValueError(f"seeds must be >= 0, got {seeds}")
        return np.array([-1 if s is None else s for s in seeds], dtype=np.int64)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every copy, as ``SyncVectorEnv.get_attr`` gives it (SB3 asks
        for ``render_mode``). The copies live in C++, so only attributes they share with
        this vector env can be read."""
        return (getattr(self, name),) * self.num_envs

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be {self.num_envs} ints (one per env), got {actions.dtype} "
                f"{actions.shape}"
            )
        # Checked here: an invalid action makes AtariVectorEnv's worker throw, and then
        # step() waits forever for its result.
        n = self.single_action_space.n
        if actions.min() < 0 or actions.max() >= n:
            raise ValueError(f"actions must be in [0, {n}), got {actions.tolist()}")
        obs, rewards, terminated, truncated, info = self.env.step(actions.astype(np.int64))
        done = terminated | truncated
        if done.any():
            self._add_final_obs(obs, terminated, done, info)
        self._lives = np.array(info["lives"], dtype=np.int64)
        return obs, rewards.astype(np.float64), terminated, truncated, info

    def _add_final_obs(
        self, obs: np.ndarray, terminated: np.ndarray, done: np.ndarray, info: dict[str, Any]
    ) -> None:
        """Give ``info`` a final observation for every finished episode.

        An env that lost a life (fewer lives than before and no reset, which restores them)
        carries on: its episode's last observation is the one just returned.
        """
        final = info.get("final_obs")
        final = np.array(obs) if final is None else final
        life_lost = terminated & (info["lives"] < self._lives)
        final[life_lost] = obs[life_lost]
        info["final_obs"] = final
        info["_final_obs"] = done
