"""World Models on pixels: the GRU latent model (windows, shapes, a falling loss), the
controller search, and the whole agent beating random play in a small pixel gridworld."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.base import Callback
from agents.evaluation import run_episode
from agents.models import (
    FitConfig,
    LatentDynamics,
    LatentDynamicsConfig,
    LinearController,
    Transitions,
    WorldModelsAgent,
    WorldModelsConfig,
    random_episode_returns,
    train_latent_dynamics,
)
from agents.models.latent import sequence_rows, termination_weight
from envs.gridworld.gridworld import GridWorldEnv

# Holes beside the start and the goal: random play mostly falls in (return 0) or wanders
# until the time limit; the shortest path takes 4 steps (return 0.97).
MAP = ("S.H", "...", "H.G")
TIME_LIMIT = 20
CONFIG = {
    "latent_dim": 8,
    "autoencoder_channels": (8, 16),
    "autoencoder_epochs": 10,
    "memory_size": 32,
    "generations": 20,
    "dream_horizon": TIME_LIMIT,
    "device": "cpu",
}


def make_env() -> gym.Env:
    """12 x 12 pixel frames (4 pixels a cell)."""
    env = GridWorldEnv(MAP, observation_mode="rgb", obs_tile_size=4)
    return gym.wrappers.TimeLimit(env, TIME_LIMIT)


# ---------------------------------------------------------------------------- parts
def test_episodes_are_cut_into_padded_windows() -> None:
    ended = np.isin(np.arange(7), [2])  # episodes: rows 0-2 and 3-6
    data = Transitions.of(np.zeros((7, 1)), np.zeros(7), np.zeros(7), np.zeros((7, 1)), ended)
    assert sequence_rows(data, 2).tolist() == [[0, 1], [2, -1], [3, 4], [5, 6]]
    assert sequence_rows(data, 4).tolist() == [[0, 1, 2, -1], [3, 4, 5, 6]]
    # One terminal step among 7: it weighs as much as the 6 others together.
    assert float(termination_weight(ended)) == 6.0
    assert float(termination_weight(np.zeros(3, bool))) == 1.0


def test_a_window_through_the_gru_equals_step_after_step() -> None:
    torch.manual_seed(0)
    model = LatentDynamics(LatentDynamicsConfig(latent_dim=3, n_actions=2, hidden=5))
    latents, actions = torch.randn(4, 6, 3), torch.randint(0, 2, (4, 6))
    with torch.no_grad():
        window = model.sequence_outputs(latents, actions)
        memory = model.initial_state(4)
        for t in range(6):
            memory, pred = model.step(latents[:, t], actions[:, t], memory)
            # The change of the latent and the reward, read from the same memory.
            torch.testing.assert_close(pred.next_obs, latents[:, t] + window[:, t, :3])
            torch.testing.assert_close(pred.rewards, window[:, t, 3])
            assert pred.terminated.shape == (4,)


def test_population_logits_are_each_candidate_s_controller() -> None:
    torch.manual_seed(0)
    controller = LinearController(features=4, n_actions=3)
    weights = torch.randn(5, controller.n_parameters)
    features = torch.randn(5, 7, 4)
    logits = controller.population_logits(weights, features)
    for p in range(5):
        controller.load_vector(weights[p])
        torch.testing.assert_close(logits[p], controller(features[p]))


def test_settings_are_checked_by_name() -> None:
    with pytest.raises(ValueError, match="rounds must be >= 1, got 0"):
        WorldModelsConfig(rounds=0)
    with pytest.raises(ValueError, match=r"random_repeat must be in \[0, 1\), got 1.0"):
        WorldModelsConfig(random_repeat=1.0)


# ---------------------------------------------------------------------------- the agent
class _Metrics(Callback):
    def __init__(self) -> None:
        self.updates: list[dict[str, float]] = []
        self.episodes = 0

    def on_update(self, agent: Any, metrics: dict[str, float]) -> None:
        self.updates.append(metrics)

    def on_episode_end(self, agent: Any, episode: Any) -> None:
        self.episodes += 1


@pytest.fixture(scope="module")
def trained() -> tuple[WorldModelsAgent, _Metrics]:
    env = make_env()
    agent = WorldModelsAgent(
        env.observation_space, env.action_space, WorldModelsConfig(**CONFIG), seed=0
    )
    metrics = _Metrics()
    agent.learn(env, 2_000, metrics)
    return agent, metrics


def test_the_controller_trained_in_dreams_beats_random_play_in_the_real_env(trained) -> None:
    agent, metrics = trained
    assert agent.num_steps == 2_000 and metrics.episodes > 100
    random_mean = float(random_episode_returns(make_env(), 300, seed=1).mean())
    result = run_episode(agent, make_env())
    # Measured: random play 0.08 on average; the controller reaches the goal for seeds
    # 0-5 (in 4-6 steps, 0.95-0.97; the optimum is 0.97).
    assert random_mean < 0.2
    assert result.success and result.episode_return > random_mean + 0.7
    (update,) = metrics.updates
    assert set(update) == {"autoencoder_loss", "dynamics_loss", "dream_return"}
    assert update["dream_return"] > 0.5  # the dream agrees the goal is reached


def test_the_gru_loss_falls_on_the_agent_s_latents(trained) -> None:
    agent, _ = trained
    data = agent.data
    latents, next_latents = (
        agent.autoencoder.encode(data.obs),
        agent.autoencoder.encode(data.next_obs),
    )
    config = LatentDynamicsConfig(latent_dim=8, n_actions=4, hidden=32)
    fit = FitConfig(epochs=15, batch_size=16, learning_rate=1e-2, device="cpu")
    _, stats = train_latent_dynamics(latents, next_latents, data, config, fit, sequence_length=8)
    assert stats.final_loss < 0.1 * stats.initial_loss
    assert stats.losses[-1] < stats.losses[len(stats.losses) // 2] < stats.losses[0]


def _actions(agent: WorldModelsAgent) -> list[int]:
    actions: list[int] = []
    env = make_env()
    obs, _ = env.reset(seed=0)
    agent.start_episode()
    for _ in range(TIME_LIMIT):
        actions.append(agent.act(obs))
        obs, _, terminated, truncated, _ = env.step(actions[-1])
        if terminated or truncated:
            break
    return actions


def test_a_loaded_agent_acts_as_the_saved_one_and_each_episode_starts_afresh(
    trained, tmp_path
) -> None:
    agent, _ = trained
    loaded = WorldModelsAgent.load(agent.save(tmp_path / "world_models.pt"))
    assert loaded.config == agent.config and loaded.rounds_done == 1
    first = _actions(agent)
    assert _actions(agent) == first  # start_episode clears the memory
    assert _actions(loaded) == first
    codes = agent.autoencoder.encode(agent.data.obs[:50])
    np.testing.assert_array_equal(loaded.autoencoder.encode(agent.data.obs[:50]), codes)


def test_a_pretrained_autoencoder_stays_as_it_is_over_rounds_of_controller_play(
    trained, tmp_path
) -> None:
    agent, _ = trained
    checkpoint = agent.autoencoder.save(tmp_path / "autoencoder.pt")
    config = WorldModelsConfig(
        **{**CONFIG, "dynamics_epochs": 2, "generations": 2, "population": 8},
        autoencoder_checkpoint=str(checkpoint),
        rounds=2,
    )
    env = make_env()
    other = WorldModelsAgent(env.observation_space, env.action_space, config, seed=1)
    metrics = _Metrics()
    other.learn(env, 200, metrics)
    assert other.rounds_done == 2 and len(metrics.updates) == 2
    assert all("autoencoder_loss" not in m for m in metrics.updates)  # frozen V
    for a, b in zip(other.autoencoder.parameters(), agent.autoencoder.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # Each round's last step is cut off there, so no window runs from one into the next.
    assert len(other.data) == 200 and other.data.truncated[[99, 199]].all()
    # A frame size the autoencoder does not read is refused, naming both.
    big = GridWorldEnv(MAP, observation_mode="rgb", obs_tile_size=8)
    with pytest.raises(ValueError, match=r"\(24, 24, 3\) but the autoencoder .* \(12, 12, 3\)"):
        WorldModelsAgent(big.observation_space, big.action_space, config)
