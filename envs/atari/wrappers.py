"""The Atari wrappers Gymnasium does not have: fire on reset, episodic life, a time limit
that survives ``gymnasium.make(env.spec)``, and the render rate of a frame-skipping env.

The rest of the DQN-paper pipeline is Gymnasium's own (see :mod:`envs.atari.factory`):
``AtariPreprocessing`` (no-op starts, frame skip with max-pooling, grayscale, resize),
``FrameStackObservation`` and ``ClipReward``. These three follow the habits of
Stable-Baselines3's ``atari_wrappers`` where they agree with ale-py's ``AtariVectorEnv``,
and follow ``AtariVectorEnv`` where the two differ, so the single-env and vectorised
pipelines give the same observations (:mod:`envs.atari.vector`).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.utils import RecordConstructorArgs

# The Atari 2600 draws 60 frames a second.
ATARI_FPS = 60


def lives(env: gym.Env) -> int:
    """Lives the player has left in the ALE game under ``env``'s wrappers."""
    return int(env.unwrapped.ale.lives())  # type: ignore[attr-defined]


def has_fire(env: gym.Env) -> bool:
    """Whether the game's action set has FIRE (games that wait for it to start do)."""
    return "FIRE" in env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]


class FireReset(gym.Wrapper, RecordConstructorArgs):
    """Press FIRE for one frame after every reset, for games that wait for it (Breakout).

    Wrap the raw ALE env (``frameskip=1``), beneath ``AtariPreprocessing``: FIRE is then
    one emulator frame, and the no-op start frames follow it, as in ``AtariVectorEnv``
    (Stable-Baselines3's ``FireResetEnv`` instead steps FIRE, then action 2, through the
    frame skip, after the no-ops). Only the reset that starts a game fires; after a lost
    life the agent presses FIRE itself (it is in its action set).

    Raises ``ValueError`` for a game whose action set has no FIRE.
    """

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
        if "FIRE" not in meanings:
            raise ValueError(f"FireReset needs a FIRE action; this game has {meanings}")
        self.fire = meanings.index("FIRE")

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self.env.reset(seed=seed, options=options)
        obs, _, terminated, truncated, info = self.env.step(self.fire)
        if terminated or truncated:  # never seen in practice; start again without FIRE
            obs, info = self.env.reset(options=options)
        return obs, info


class EpisodicLife(gym.Wrapper, RecordConstructorArgs):
    """A lost life ends the episode (``terminated``) but not the game: for training only.

    The DQN paper's trick: the value of a state just before losing a life is then learned
    as the end of an episode. A ``reset`` after such an episode (without ``seed`` or
    ``options``) returns the last observation and the game goes on; any other reset starts
    a new game. Losing the last life is the game's own end. A life lost on the step that
    reaches the time limit counts as terminated, not truncated (no bootstrap past it).

    Place it outside the frame stack so the stack carries on across lives, as
    ``AtariVectorEnv``'s ``life_loss_info`` does (Stable-Baselines3's ``EpisodicLifeEnv``
    steps a no-op on such a reset instead).
    """

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.lives = 0
        # The last step's observation and info while the episode it ended was a lost life.
        self._life_lost: tuple[Any, dict[str, Any]] | None = None

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        left = lives(self.env)
        lost = 0 < left < self.lives
        game_goes_on = lost and not (terminated or truncated)
        self._life_lost = (obs, dict(info)) if game_goes_on else None
        self.lives = left
        return obs, reward, terminated or lost, truncated and not lost, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if self._life_lost is not None and seed is None and options is None:
            obs, info = self._life_lost
        else:
            obs, info = self.env.reset(seed=seed, options=options)
        self._life_lost = None
        self.lives = lives(self.env)
        return obs, info


class GameTimeLimit(gym.Wrapper, RecordConstructorArgs):
    """Truncate a game ``max_steps`` agent steps after the reset that started it.

    Gymnasium's ``TimeLimit`` counts the same way where it is placed, but
    ``gymnasium.make(env.spec)`` re-applies it right on the emulator, where it would count
    frames (the reset's FIRE and no-op frames too), so copies made from the spec would stop
    four times too early. This one is re-applied where it stands. As in
    ``AtariVectorEnv``, a step that ends the game is terminated, not also truncated.
    """

    def __init__(self, env: gym.Env, max_steps: int) -> None:
        RecordConstructorArgs.__init__(self, max_steps=max_steps)
        gym.Wrapper.__init__(self, env)
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = max_steps
        self.steps = 0

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        out_of_time = self.steps >= self.max_steps and not terminated
        return obs, reward, terminated, truncated or out_of_time, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self.steps = 0
        return self.env.reset(seed=seed, options=options)


class FrameSkipRenderFps(gym.Wrapper, RecordConstructorArgs):
    """Declare ``render_fps`` in agent steps: 60 / ``frame_skip``, rounded (15 for 4).

    ``render()`` shows the game's latest frame once per agent step, so a viewer or GIF at
    this rate plays the game at its real speed.
    """

    def __init__(self, env: gym.Env, frame_skip: int) -> None:
        RecordConstructorArgs.__init__(self, frame_skip=frame_skip)
        gym.Wrapper.__init__(self, env)
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        self.metadata = {**env.metadata, "render_fps": max(1, round(ATARI_FPS / frame_skip))}
