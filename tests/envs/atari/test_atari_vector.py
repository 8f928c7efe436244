"""The vectorised Atari pipeline (ale-py's AtariVectorEnv) against the single-env one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

from gymnasium.vector import AutoresetMode

from agents.common.vector import final_observations
from envs.atari import AtariSettings, make_atari_env, make_atari_vector_env

BREAKOUT = "ALE/Breakout-v5"
FIRE = 1


@pytest.mark.parametrize(
    ("env_id", "training", "frames", "steps"),
    [(BREAKOUT, True, 108_000, 700), ("ALE/Pong-v5", False, 400, 300)],
)
def test_vector_and_single_pipelines_play_identical_games(env_id, training, frames, steps):
    # Without no-ops and sticky actions nothing random is left, so the two paths must agree
    # bit for bit: AtariVectorEnv resizes with the same OpenCV INTER_AREA on the same
    # max-pooled grayscale frames. (With no-ops they draw the counts from different
    # generators, C++ mt19937 against the env's numpy one, so the starts differ.)
    # Breakout: lost lives and game overs; Pong: truncation every 100 steps.
    settings = AtariSettings(noop_max=0, max_num_frames_per_episode=frames)
    n = 2
    venv = make_atari_vector_env(env_id, n, settings, training=training, num_threads=1)
    singles = [make_atari_env(env_id, settings, training=training) for _ in range(n)]
    vec_obs, _ = venv.reset(seed=10)
    for i, env in enumerate(singles):
        obs, _ = env.reset(seed=10 + i)
        assert np.array_equal(obs, vec_obs[i])
    rng = np.random.default_rng(0)
    endings = 0
    for _ in range(steps):
        actions = rng.integers(venv.single_action_space.n, size=n)
        vec_obs, rewards, terminated, truncated, info = venv.step(actions)
        done = terminated | truncated
        for i, env in enumerate(singles):
            obs, reward, term, trunc, _ = env.step(int(actions[i]))
            assert (reward, term, trunc) == (rewards[i], terminated[i], truncated[i])
            if term or trunc:
                endings += 1
                final = info["final_obs"][i]
                if trunc:
                    # AtariVectorEnv ends a truncated step before it grabs the step's last
                    # frame, so the newest frame of its final observation is pooled from
                    # stale buffers; the single env finishes the step. The rest agrees.
                    assert np.array_equal(obs[:-1], final[:-1])
                else:
                    assert np.array_equal(obs, final)
                obs, _ = env.reset()
            assert np.array_equal(obs, vec_obs[i])
        if done.any():
            assert np.array_equal(info["_final_obs"], done)
    assert endings >= 6


def test_a_lost_life_gives_a_final_observation_and_the_game_goes_on():
    venv = make_atari_vector_env(BREAKOUT, 1, AtariSettings(noop_max=0), num_threads=1)
    obs, info = venv.reset(seed=0)
    terminated = np.array([False])
    while not terminated[0]:
        obs, _, terminated, _, info = venv.step(np.array([FIRE]))
    assert info["lives"][0] == 4  # a life lost: the episode ended, the game did not restart
    assert np.array_equal(info["final_obs"][0], obs[0])
    assert np.array_equal(final_observations(obs, info, terminated), obs)


def test_training_vector_env_ends_episodes_on_lost_lives_and_clips_rewards():
    settings = AtariSettings(noop_max=0)
    for training, lives_at_first_end in ((True, 4), (False, 5)):  # 5: restarted after game over
        venv = make_atari_vector_env(BREAKOUT, 1, settings, training=training, num_threads=1)
        venv.reset(seed=0)
        terminated = np.array([False])
        while not terminated[0]:
            _, rewards, terminated, _, info = venv.step(np.array([FIRE]))
            assert rewards.dtype == np.float64
        assert info["lives"][0] == lives_at_first_end
    rewards = []
    venv = make_atari_vector_env("ALE/SpaceInvaders-v5", 2, settings, num_threads=1)
    venv.reset(seed=1)
    actions = np.random.default_rng(0).integers(6, size=(300, 2))
    rewards = np.array([venv.step(a)[1] for a in actions])
    assert set(np.unique(rewards)) <= {0.0, 1.0} and rewards.sum() > 0


def test_same_seed_same_games():
    settings = AtariSettings(repeat_action_probability=0.25)  # no-ops and sticky actions
    a = make_atari_vector_env(BREAKOUT, 2, settings, num_threads=1)
    b = make_atari_vector_env(BREAKOUT, 2, settings, num_threads=1)
    assert np.array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    for actions in np.random.default_rng(0).integers(4, size=(300, 2)):
        out_a, out_b = a.step(actions), b.step(actions)
        for x, y in zip(out_a[:4], out_b[:4], strict=True):
            assert np.array_equal(x, y)


def test_reset_takes_one_seed_per_env_with_none_to_keep_the_stream():
    venv = make_atari_vector_env(BREAKOUT, 2, num_threads=1)
    first, _ = venv.reset(seed=3)
    again, _ = venv.reset(seed=[3, 4])  # what seed=3 means: 3 + i for env i
    assert np.array_equal(first, again)
    venv.reset(seed=[None, 4])
    with pytest.raises(ValueError, match="got 3 seeds for 2 envs"):
        venv.reset(seed=[1, 2, 3])


@pytest.mark.timeout(60)  # a bad action must raise, not hang in AtariVectorEnv's worker
def test_bad_actions_raise_instead_of_reaching_the_emulator():
    venv = make_atari_vector_env(BREAKOUT, 2, num_threads=1)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be in \[0, 4\), got \[4, 0\]"):
        venv.step(np.array([4, 0]))
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        venv.step(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="actions must be 2 ints"):
        venv.step(np.array([0]))
    assert venv.step(np.array([1, 2], dtype=np.int32))[0].shape == (2, 4, 84, 84)


def test_vector_env_follows_palaestras_vector_conventions():
    venv = make_atari_vector_env(BREAKOUT, 3, AtariSettings(frame_stack=2, screen_size=64))
    single = make_atari_env(BREAKOUT, AtariSettings(frame_stack=2, screen_size=64))
    assert venv.num_envs == 3
    assert venv.single_observation_space == single.observation_space
    assert venv.single_action_space == single.action_space
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert venv.metadata["render_fps"] == 15 and "rgb_array" in venv.metadata["render_modes"]
    assert venv.get_attr("render_mode") == (None, None, None)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 2, 64, 64) and obs.dtype == np.uint8


def test_bad_vector_arguments_raise():
    with pytest.raises(ValueError, match="n_envs=0"):
        make_atari_vector_env(BREAKOUT, 0)
    with pytest.raises(ValueError, match="num_threads=0"):
        make_atari_vector_env(BREAKOUT, 2, num_threads=0)
