"""The single-env Atari pipeline on real ROMs: each preprocessing step, shapes, seeding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("ale_py")
cv2 = pytest.importorskip("cv2")

import gymnasium as gym  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from envs.atari import AtariSettings, make_atari_env  # noqa: E402
from envs.atari.wrappers import EpisodicLife, FireReset  # noqa: E402

BREAKOUT = "ALE/Breakout-v5"
NOOP, FIRE, RIGHT, LEFT = range(4)  # Breakout's minimal action set
NO_NOOPS = AtariSettings(noop_max=0)


def wrapper_names(env: gym.Env) -> list[str]:
    names = []
    while isinstance(env, gym.Wrapper):
        names.append(type(env).__name__)
        env = env.env
    return names


def resize(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)


def test_fire_reset_puts_the_ball_in_play():
    lives_after = {}
    for fire in (True, False):
        settings = AtariSettings(noop_max=0, fire_reset=fire)
        env = make_atari_env(BREAKOUT, settings, training=False)
        _, info = env.reset(seed=0)
        assert info["episode_frame_number"] == int(fire)  # FIRE is one emulator frame
        for _ in range(100):  # never press FIRE: only the reset can launch the ball
            _, _, _, _, info = env.step(NOOP)
        lives_after[fire] = info["lives"]
    assert lives_after == {True: 4, False: 5}  # the launched ball got past the still paddle


def test_fire_reset_needs_a_game_with_fire():
    freeway = gym.make("ALE/Freeway-v5", frameskip=1)  # actions NOOP, UP, DOWN
    with pytest.raises(ValueError, match=r"needs a FIRE action; this game has \['NOOP'"):
        FireReset(freeway)
    assert "FireReset" not in wrapper_names(make_atari_env("ALE/Freeway-v5"))
    assert "FireReset" in wrapper_names(make_atari_env(BREAKOUT))


def test_a_lost_life_ends_the_training_episode_but_not_the_game():
    env = make_atari_env(BREAKOUT, NO_NOOPS, training=True)
    obs, info = env.reset(seed=0)
    lengths, lives = [], []
    while True:  # FIRE relaunches the ball; the paddle never moves, so every life is lost
        length, done = 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(FIRE)
            length, done = length + 1, terminated or truncated
        assert terminated and not truncated
        lengths.append(length)
        lives.append(info["lives"])
        frame = info["episode_frame_number"]
        next_obs, next_info = env.reset()
        if info["lives"] == 0:  # the game is over: a new one starts
            assert next_info["lives"] == 5 and next_info["episode_frame_number"] == 1
            break
        # Same game: the last observation, the frame counter carries on.
        assert np.array_equal(next_obs, obs)
        assert next_info["lives"] == info["lives"] and next_info["episode_frame_number"] == frame
    assert lives == [4, 3, 2, 1, 0]

    # The evaluation variant plays the same game as one episode of every life.
    env = make_atari_env(BREAKOUT, NO_NOOPS, training=False)
    env.reset(seed=0)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(FIRE)
        steps, done = steps + 1, terminated or truncated
    assert steps == sum(lengths) and info["lives"] == 0 and terminated


def test_episodic_life_starts_a_new_game_when_asked_for_a_seed():
    env = make_atari_env(BREAKOUT, NO_NOOPS, training=True)
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(FIRE)
    assert info["lives"] == 4
    _, info = env.reset(seed=1)
    assert info["lives"] == 5


def test_reward_clipping_keeps_each_rewards_sign_in_training_only():
    # Space Invaders scores 5 to 30 a hit; the two variants play the same game.
    train = make_atari_env("ALE/SpaceInvaders-v5", NO_NOOPS, training=True)
    scored = make_atari_env("ALE/SpaceInvaders-v5", NO_NOOPS, training=False)
    train.reset(seed=1)
    scored.reset(seed=1)
    rng = np.random.default_rng(0)
    raw, clipped = [], []
    for _ in range(180):  # the first life lasts longer than this
        action = int(rng.integers(6))
        obs_t, r_t, term_t, _, _ = train.step(action)
        obs_s, r_s, term_s, _, _ = scored.step(action)
        assert np.array_equal(obs_t, obs_s) and not term_t and not term_s
        raw.append(r_s)
        clipped.append(r_t)
    raw = np.array(raw)
    assert raw.max() > 1  # real points were scored...
    assert np.array_equal(clipped, np.sign(raw))  # ...and training sees their sign


def test_observation_is_the_max_of_the_last_two_frames_resized():
    env = make_atari_env(BREAKOUT, NO_NOOPS, training=False)
    obs, _ = env.reset(seed=3)
    # The same game stepped frame by frame: FIRE on reset, then each action 4 frames.
    raw = gym.make(BREAKOUT, frameskip=1, repeat_action_probability=0.0)
    raw.reset(seed=3)
    raw.step(FIRE)
    ale = raw.unwrapped.ale
    rng = np.random.default_rng(0)
    pooling_mattered = 0
    for _ in range(60):
        action = int(rng.integers(4))
        frames = []
        for _ in range(4):
            raw.step(action)
            frames.append(ale.getScreenGrayscale())
        previous = obs
        obs, *_ = env.step(action)
        pooled = resize(np.maximum(frames[2], frames[3]))
        last = resize(frames[3])
        assert np.array_equal(obs[-1], pooled)
        assert np.array_equal(obs[:-1], previous[1:])  # the stack shifts by one frame
        pooling_mattered += not np.array_equal(pooled, last)
    assert pooling_mattered > 10  # the ball moves between the two frames


def test_the_time_limit_counts_agent_steps_from_the_first_observation():
    # 400 frames: 100 steps of 4 frames, whatever the reset spent on FIRE and no-ops.
    env = make_atari_env("ALE/Pong-v5", AtariSettings(max_num_frames_per_episode=400))
    for seed in range(3):
        env.reset(seed=seed)
        steps, truncated = 0, False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(NOOP)
            steps += 1
            assert not terminated
        assert steps == 100


def test_a_copy_made_from_the_spec_plays_the_same_game():
    # What a learner does to get n_envs copies of one env (agents.common.vector).
    env = make_atari_env(BREAKOUT, AtariSettings(max_num_frames_per_episode=200))
    copy = gym.make(env.spec)
    assert wrapper_names(copy) == wrapper_names(env)
    assert np.array_equal(env.reset(seed=1)[0], copy.reset(seed=1)[0])
    ends = 0
    for action in np.random.default_rng(0).integers(4, size=300):
        out, out_copy = env.step(int(action)), copy.step(int(action))
        assert np.array_equal(out[0], out_copy[0]) and out[1:4] == out_copy[1:4]
        if out[2] or out[3]:
            ends += 1
            env.reset()
            copy.reset()
    assert ends >= 5  # lost lives and 50-step time limits, in both


def test_shapes_dtypes_and_the_zero_padded_stack():
    env = make_atari_env(BREAKOUT)
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.action_space == gym.spaces.Discrete(4)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs in env.observation_space
    assert not obs[:3].any() and obs[3].any()  # a new game: three empty frames, then the first
    obs, reward, terminated, truncated, _ = env.step(FIRE)
    assert obs in env.observation_space and isinstance(float(reward), float)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)

    small = make_atari_env(BREAKOUT, AtariSettings(frame_stack=2, screen_size=64))
    assert small.observation_space.shape == (2, 64, 64)
    assert small.reset(seed=0)[0].shape == (2, 64, 64)


def test_render_gives_the_colour_game_frame_at_game_speed():
    env = make_atari_env(BREAKOUT, training=False, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2  # colours, not gray
    assert env.metadata["render_fps"] == 15  # 60 frames/s, 4 frames a step
    skip2 = make_atari_env(BREAKOUT, AtariSettings(frame_skip=2), render_mode="rgb_array")
    assert skip2.metadata["render_fps"] == 30


def test_same_seed_same_game_and_seeds_vary_the_start():
    sticky = AtariSettings(repeat_action_probability=0.25)  # the seed drives more RNG
    a, b = make_atari_env(BREAKOUT, sticky), make_atari_env(BREAKOUT, sticky)
    obs_a, _ = a.reset(seed=7)
    obs_b, _ = b.reset(seed=7)
    assert np.array_equal(obs_a, obs_b)
    actions = np.random.default_rng(0).integers(4, size=400)
    for action in actions:
        out_a, out_b = a.step(int(action)), b.step(int(action))
        assert np.array_equal(out_a[0], out_b[0]) and out_a[1:4] == out_b[1:4]
        if out_a[2] or out_a[3]:
            a.reset()
            b.reset()
    starts = {
        make_atari_env(BREAKOUT).reset(seed=seed)[1]["episode_frame_number"] for seed in range(6)
    }
    assert len(starts) > 1  # the no-op count comes from the seed


@pytest.mark.parametrize("training", [True, False])
def test_gymnasium_env_checker_passes(training):
    env = make_atari_env(BREAKOUT, training=training)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    # The only remark is that the env is wrapped, which is the point of a pipeline.
    assert [str(w.message) for w in caught if "unwrapped" not in str(w.message)] == []


def test_settings_reject_bad_values_by_name():
    with pytest.raises(ValueError, match=r"frame_skip=0: expected >= 1"):
        AtariSettings(frame_skip=0)
    with pytest.raises(ValueError, match=r"repeat_action_probability=1.5: expected in \[0, 1\]"):
        AtariSettings(repeat_action_probability=1.5)
    with pytest.raises(TypeError, match="noop_mx"):
        AtariSettings(noop_mx=3)  # type: ignore[call-arg]


def test_training_wrappers_wrap_the_stack():
    training = wrapper_names(make_atari_env(BREAKOUT, training=True))
    scored = wrapper_names(make_atari_env(BREAKOUT, training=False))
    assert training[:2] == ["ClipReward", EpisodicLife.__name__]
    assert "ClipReward" not in scored and "EpisodicLife" not in scored
    off = AtariSettings(episodic_life=False, clip_rewards=False)
    assert wrapper_names(make_atari_env(BREAKOUT, off, training=True)) == scored
