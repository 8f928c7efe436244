"""Planning by model rollouts: imagined returns, random shooting and the cross-entropy method
with the true model of a gridworld, and ModelPredictiveAgent learning its own model."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the palaestra ids)
from agents.evaluation import run_episode
from agents.models import (
    ModelPredictiveAgent,
    ModelPredictiveConfig,
    Prediction,
    cross_entropy_method,
    imagined_returns,
    random_shooting,
)
from agents.tabular import ValueIteration, ValueIterationConfig
from envs.gridworld.cells import Cell
from envs.gridworld.gridworld import GridWorldEnv

GAMMA = 0.99


def test_imagined_returns_discount_and_stop_at_termination() -> None:
    rewards = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    ends = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.0]])
    returns = imagined_returns(rewards, ends, gamma=0.5)
    # Ends after step 2: 1 + 0.5. Half-sure end after step 1: 1 + 0.5 * 0.5 * (1 + 0.5).
    torch.testing.assert_close(returns, torch.tensor([1.5, 1.375]))


class TrueGridModel:
    """A gridworld's exact dynamics on ``coords`` observations, as a one-member model."""

    def __init__(self, grid: GridWorldEnv) -> None:
        self.grid = grid
        self.n_actions = grid.n_actions
        self.table = grid.transition_arrays()

    def imagine(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        grid = self.grid
        states = np.array([grid.encode_state(int(r), int(c)) for r, c in obs.tolist()])
        cells, rewards, ends = [], [], []
        for a in actions.T.numpy():
            rewards.append(self.table.reward[states, a, 0])
            ends.append(self.table.terminated[states, a, 0])
            states = self.table.next_state[states, a, 0]
            cells.append([grid.decode_state(s)[:2] for s in states])
        return Prediction(
            torch.tensor(np.array(cells), dtype=torch.float32).transpose(0, 1)[None],
            torch.tensor(np.array(rewards).T, dtype=torch.float32)[None],
            torch.tensor(np.array(ends).T, dtype=torch.float32)[None],
        )


def _optimal_actions(grid: GridWorldEnv) -> dict[tuple[int, int], set[int]]:
    """The actions value iteration rates best (within 1e-9) in every non-goal cell."""
    index_env = GridWorldEnv(grid.layout.rows)
    planner = ValueIteration(
        index_env.observation_space, index_env.action_space, ValueIterationConfig(GAMMA)
    )
    planner.learn(index_env, total_steps=0)
    best = {}
    for r in range(grid.layout.height):
        for c in range(grid.layout.width):
            q = planner.q[grid.encode_state(r, c)]
            if grid.layout.cells[r, c] in (Cell.FLOOR, Cell.START):
                best[(r, c)] = set(np.flatnonzero(q >= q.max() - 1e-9).tolist())
    return best


# Holes next to the start and next to the goal: a plan that strays ends at 0.
MAP = ("S.H", "...", "H.G")


@pytest.mark.parametrize("planner", ["cem", "random_shooting"])
def test_with_the_true_model_every_cell_gets_an_optimal_action(planner: str) -> None:
    grid = GridWorldEnv(MAP, observation_mode="coords")
    best = _optimal_actions(grid)
    assert len(best) == 6 and best[(0, 1)] == {2} and best[(1, 0)] == {1}  # not the holes
    model = TrueGridModel(grid)
    cells = sorted(best)
    obs = torch.tensor(cells, dtype=torch.float32)
    rng = np.random.default_rng(0)
    if planner == "cem":
        actions, scores = cross_entropy_method(model, obs, 5, 100, rng, gamma=GAMMA)
    else:
        actions, scores = random_shooting(model, obs, 5, 300, rng, gamma=GAMMA)
    chosen = dict(zip(cells, actions.tolist(), strict=True))
    assert all(chosen[cell] in best[cell] for cell in cells), chosen
    # From the start the best plan is a shortest path: 3 steps of -0.01, then +1.
    start = cells.index((0, 0))
    expected = sum(-0.01 * GAMMA**t for t in range(3)) + GAMMA**3
    assert float(scores[start]) == pytest.approx(expected, abs=1e-5)


class OnesModel:
    """A bandit as a model: action 1 pays 1 at every step, action 0 pays 0; no ends."""

    n_actions = 2

    def imagine(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        rewards = (actions == 1).float()[None]
        return Prediction(
            obs[None, :, None].expand(1, -1, actions.shape[1], -1), rewards, 0 * rewards
        )


def test_cem_moves_its_sampling_towards_the_elites() -> None:
    model, obs = OnesModel(), torch.zeros(1, 1)
    best = sum(GAMMA**t for t in range(12))  # action 1 all the way
    # 50 uniform 12-step plans: the best has a few zeros in it (all ones: 1 in 4096).
    _, one = cross_entropy_method(model, obs, 12, 50, np.random.default_rng(0), iterations=1)
    # Refitting to the elites' action frequencies finds the all-ones plan (measured: for
    # rng seeds 0-29, where one iteration never does).
    _, four = cross_entropy_method(model, obs, 12, 50, np.random.default_rng(0), iterations=4)
    assert float(one) < best - 0.5
    assert float(four) == pytest.approx(best)


def test_settings_are_checked_by_name() -> None:
    with pytest.raises(
        ValueError, match="unknown planner 'mppi'; valid planners: cem, random_shooting"
    ):
        ModelPredictiveConfig(planner="mppi")
    with pytest.raises(ValueError, match=r"elite_fraction must be in \(0, 1\]"):
        ModelPredictiveConfig(elite_fraction=0.0)


@pytest.fixture(scope="module")
def learned() -> ModelPredictiveAgent:
    env = gym.make("palaestra/TinyGrid-v0", observation_mode="coords")
    config = ModelPredictiveConfig(
        model_ensemble_size=3,
        model_starts=100,
        model_train_freq=50,
        model_gradient_steps=200,
        model_batch_size=64,
        model_learning_rate=3e-3,
        horizon=5,
        n_candidates=100,
        device="cpu",
    )
    agent = ModelPredictiveAgent(env.observation_space, env.action_space, config, seed=0)
    agent.learn(env, 300)
    return agent


def test_with_a_learned_model_it_reaches_the_gridworld_optimum(learned) -> None:
    env = gym.make("palaestra/TinyGrid-v0", observation_mode="coords")
    # 100 random steps, then planning; refits at 100, 150, ..., 300 steps. Measured: the
    # optimum (4 steps, 0.97) for seeds 0-5.
    assert learned.model.fits == 5 and len(learned.model.data) == 300
    result = run_episode(learned, env)
    assert result.episode_return == pytest.approx(0.97) and result.length == 4


def test_a_loaded_agent_plans_the_same_actions(learned, tmp_path) -> None:
    loaded = ModelPredictiveAgent.load(learned.save(tmp_path / "mpc.pt"))
    assert loaded.config == learned.config and loaded.model.fits == learned.model.fits
    cells = [np.array([r, c]) for r in range(3) for c in range(3)]
    # Candidates come from the agent's generator, which the checkpoint restores.
    assert [loaded.act(o) for o in cells] == [learned.act(o) for o in cells]
