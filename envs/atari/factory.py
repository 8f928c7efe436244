"""One factory for any ALE game with the DQN-paper preprocessing (Mnih et al., 2015).

``make_atari_env(env_id)`` wraps the game, from the emulator outwards, in:

1. :class:`~envs.atari.wrappers.FireReset` for games with FIRE (one FIRE frame after a
   reset, so Breakout's ball is in play);
2. Gymnasium's ``AtariPreprocessing``: up to ``noop_max`` no-op frames at the start, every
   action repeated ``frame_skip`` frames with the max of the last two frames as the
   picture (Atari sprites flicker), grayscale, resized to ``screen_size`` square;
3. ``FrameStackObservation`` of ``frame_stack`` frames, zero-padded at the start of a game:
   observations are ``(4, 84, 84)`` uint8, channels first, as ``AtariVectorEnv``'s;
4. :class:`~envs.atari.wrappers.GameTimeLimit`: a game is truncated after
   ``max_num_frames_per_episode`` frames of play;
5. :class:`~envs.atari.wrappers.FrameSkipRenderFps`, so ``render()`` plays at real speed;
6. training only: :class:`~envs.atari.wrappers.EpisodicLife` and Gymnasium's
   ``ClipReward`` to [-1, 1].

``training=True`` is the env to learn from; ``training=False`` is the game as it is scored
(whole games, raw points), for evaluation and watching. :func:`envs.atari.vector.
make_atari_vector_env` steps many copies of the same pipeline in ale-py's C++ threads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing, ClipReward, FrameStackObservation

from envs.atari.dependencies import import_cv2
from envs.atari.games import rom_name
from envs.atari.wrappers import (
    EpisodicLife,
    FireReset,
    FrameSkipRenderFps,
    GameTimeLimit,
    has_fire,
)


@dataclass(frozen=True)
class AtariSettings:
    """The preprocessing of an Atari env; the same fields drive the single and vector paths
    (and are the ``env_kwargs`` an Atari run accepts: ``--set env.noop_max=0``).

    Sticky actions are off by default (``repeat_action_probability=0.0``), as in
    ``AtariVectorEnv``, Stable-Baselines3's and CleanRL's Atari benchmarks (the ``v4``
    NoFrameskip ids) and the DQN paper, so results compare with theirs and a seed replays a
    run exactly. Machado et al. (2018) recommend 0.25 (the ``v5`` ids' default) to test
    robustness: pass it to get their protocol.
    """

    noop_max: int = 30
    """At most this many no-op frames at the start of a game (a random number, from the
    env's seed), so episodes do not all start alike; 0: none."""
    frame_skip: int = 4
    """Emulator frames per agent step (the action repeats); the observation is the max of
    the last two frames."""
    screen_size: int = 84
    """Side of the square grayscale frames."""
    frame_stack: int = 4
    """Frames per observation (the latest last)."""
    repeat_action_probability: float = 0.0
    """Sticky actions: the chance that the emulator repeats the previous action for a frame."""
    full_action_space: bool = False
    """All 18 joystick actions instead of the game's minimal set."""
    max_num_frames_per_episode: int = 108_000
    """Truncate a game after this many emulator frames of play (30 minutes; 27,000 agent
    steps at frame skip 4). Counted in agent steps, ``ceil(frames / frame_skip)``, from the
    first observation, as ``AtariVectorEnv`` counts them: the reset's FIRE and no-op frames
    do not count (ALE's own counter would include them)."""
    fire_reset: bool = True
    """Press FIRE once at the start of every game whose action set has FIRE."""
    episodic_life: bool = True
    """Training variant only: a lost life ends the episode (the game goes on)."""
    clip_rewards: bool = True
    """Training variant only: rewards clipped to [-1, 1] (their sign, for Atari's integer
    points), so one set of hyperparameters suits every game's score scale."""

    def __post_init__(self) -> None:
        checks = (
            ("noop_max", self.noop_max >= 0, ">= 0"),
            ("frame_skip", self.frame_skip >= 1, ">= 1"),
            ("screen_size", self.screen_size >= 1, ">= 1"),
            ("frame_stack", self.frame_stack >= 1, ">= 1"),
            ("repeat_action_probability", 0 <= self.repeat_action_probability <= 1, "in [0, 1]"),
            ("max_num_frames_per_episode", self.max_num_frames_per_episode >= 1, ">= 1"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected {expected}")

    @property
    def max_steps(self) -> int:
        """The time limit in agent steps."""
        return math.ceil(self.max_num_frames_per_episode / self.frame_skip)

    @classmethod
    def names(cls) -> list[str]:
        """The settings' names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]


def make_atari_env(
    env_id: str,
    settings: AtariSettings | None = None,
    *,
    training: bool = True,
    render_mode: str | None = None,
) -> gym.Env:
    """An ALE game with the DQN-paper preprocessing (see the module docstring).

    ``env_id`` is any ale-py id (``ALE/Pong-v5``, ``BreakoutNoFrameskip-v4``): it picks the
    game; frame skip, sticky actions and the rest come from ``settings`` (defaults:
    :class:`AtariSettings`), whatever the id's own registration says. ``training`` adds
    episodic life and reward clipping (as ``settings`` asks). ``render_mode="rgb_array"``
    renders the game's colour frame (210x160), not the 84x84 observation.

    Raises ``gymnasium.error.DependencyNotInstalled`` naming the ``atari`` extra without
    ale-py or OpenCV, and ``gymnasium.error.UnregisteredEnv`` with close matches for an
    unknown id.
    """
    settings = settings or AtariSettings()
    rom_name(env_id)  # checks the id (imports ale-py)
    import_cv2()
    env = gym.make(
        env_id,
        frameskip=1,  # AtariPreprocessing skips frames itself
        repeat_action_probability=settings.repeat_action_probability,
        full_action_space=settings.full_action_space,
        max_num_frames_per_episode=0,  # no limit in ALE: GameTimeLimit counts
        # The wrappers read the screen from ALE; the base env's own observation, copied
        # every frame and never used, is cheapest in grayscale.
        obs_type="grayscale",
        render_mode=render_mode,
    )
    if settings.fire_reset and has_fire(env):
        env = FireReset(env)
    env = AtariPreprocessing(
        env,
        noop_max=settings.noop_max,
        frame_skip=settings.frame_skip,
        screen_size=settings.screen_size,
    )
    env = FrameStackObservation(env, settings.frame_stack, padding_type="zero")
    env = GameTimeLimit(env, settings.max_steps)
    env = FrameSkipRenderFps(env, settings.frame_skip)
    if training and settings.episodic_life:
        env = EpisodicLife(env)
    if training and settings.clip_rewards:
        env = ClipReward(env, -1.0, 1.0)
    return env
