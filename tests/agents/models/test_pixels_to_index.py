"""PixelsToIndex: a tabular agent learns from pixels through the CellCNN and reaches the
same optimum as from the env's ``index`` observation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from perception_cases import TILE, TRAIN_SEEDS

import envs  # noqa: F401  (registers the palaestra ids)
from agents.evaluation import run_episode
from agents.models import CellCNN, CellCNNConfig, PixelsToIndex
from agents.tabular import QLearning, ValueIteration, ValueIterationConfig

HELD_OUT_MAZE = {"maze_size": 9, "maze_seed": 200}


def pixels(model: CellCNN, env_id: str, memoize: bool = False, **kwargs: object) -> gym.Env:
    env = gym.make(env_id, observation_mode="rgb", obs_tile_size=TILE, **kwargs)
    return PixelsToIndex(env, model, memoize=memoize)


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("palaestra/Maze-v0", HELD_OUT_MAZE),
        ("palaestra/GridWorld-v0", {}),
        ("palaestra/DoorKey-v0", {}),  # position from pixels, key and door flags from the env
    ],
)
def test_the_wrapper_s_index_is_the_env_s_state_at_every_step(
    cell_cnn: CellCNN, env_id: str, kwargs: dict
) -> None:
    env = pixels(cell_cnn, env_id, **kwargs)
    assert env.observation_space == gym.spaces.Discrete(env.unwrapped.n_states)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    seen = {obs}
    for _ in range(400):
        assert obs == env.unwrapped.state
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        seen.add(obs)
        if terminated or truncated:
            obs, _ = env.reset()
    assert len(seen) > 10  # the walk went places


def test_q_learning_from_pixels_reaches_the_value_iteration_optimum(cell_cnn: CellCNN) -> None:
    assert HELD_OUT_MAZE["maze_seed"] not in TRAIN_SEEDS
    index_env = gym.make("palaestra/Maze-v0", **HELD_OUT_MAZE)
    planner = ValueIteration(
        index_env.observation_space, index_env.action_space, ValueIterationConfig(gamma=0.99)
    )
    planner.learn(index_env, total_steps=0)
    optimum = run_episode(planner, index_env)

    pixel_env = pixels(cell_cnn, "palaestra/Maze-v0", **HELD_OUT_MAZE)
    agent = QLearning(pixel_env.observation_space, pixel_env.action_space, seed=0)
    agent.learn(pixel_env, total_steps=5_000)
    learned = run_episode(agent, pixel_env)
    # Deterministic maze: one greedy episode is the policy's exact return.
    assert learned.episode_return == pytest.approx(optimum.episode_return)
    assert learned.length == optimum.length == 12
    # Perception is exact, so learning from pixels is learning from the index, bit for bit.
    from_index = QLearning(index_env.observation_space, index_env.action_space, seed=0)
    from_index.learn(index_env, total_steps=5_000)
    np.testing.assert_array_equal(agent.q, from_index.q)


def test_memoized_predictions_give_the_same_indices(cell_cnn: CellCNN) -> None:
    plain = pixels(cell_cnn, "palaestra/GridWorld-v0")
    memo = pixels(cell_cnn, "palaestra/GridWorld-v0", memoize=True)
    for env in (plain, memo):
        env.action_space.seed(1)
    obs = [plain.reset(seed=1)[0], memo.reset(seed=1)[0]]
    for _ in range(200):
        assert obs[0] == obs[1]
        a = plain.action_space.sample()
        memo.action_space.sample()
        steps = [plain.step(a), memo.step(a)]
        obs = [s[0] for s in steps]
        if steps[0][2] or steps[0][3]:
            obs = [plain.reset()[0], memo.reset()[0]]
    # One prediction per distinct frame: at most the map's non-wall cells.
    assert 0 < len(memo.memo) <= 31


def test_the_wrapper_refuses_envs_it_cannot_read(cell_cnn: CellCNN) -> None:
    with pytest.raises(ValueError, match="observation_mode='rgb'"):
        PixelsToIndex(gym.make("palaestra/GridWorld-v0"), cell_cnn)
    with pytest.raises(ValueError, match="obs_tile_size=4"):
        PixelsToIndex(
            gym.make("palaestra/GridWorld-v0", observation_mode="rgb", obs_tile_size=8), cell_cnn
        )
    with pytest.raises(ValueError, match="expected a palaestra gridworld"):
        PixelsToIndex(gym.make("CartPole-v1"), CellCNN(CellCNNConfig(tile_size=TILE)))
