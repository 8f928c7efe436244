"""SB3's PPO, A2C and DQN as palaestra agents: configs, learning, callbacks, checkpoints."""

from __future__ import annotations

import inspect
import zipfile
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.utils import LinearSchedule

import envs  # noqa: F401 - registers the palaestra ids
from agents.base import Callback, EpisodeStats
from agents.evaluation import run_episode
from agents.registry import agent_class
from agents.sb3 import SB3A2C, SB3DQN, SB3PPO, SB3Agent, SB3PPOConfig
from agents.sb3.base import OWN_FIELDS, algorithm_kwargs, resolve_policy
from agents.tabular import ValueIteration
from training.environments import make_vector_env

TINY = "palaestra/TinyGrid-v0"

# Small budgets that still train: DQN's Zoo defaults wait 1000 steps before the first update.
QUICK = {
    SB3PPO: {},
    SB3A2C: {},
    SB3DQN: {"learning_starts": 64, "train_freq": 32, "gradient_steps": 4},
}


def optimum(env_id: str) -> float:
    """The greedy return of value iteration's policy on the index-mode env (deterministic)."""
    env = gym.make(env_id, observation_mode="index")
    planner = ValueIteration(env.observation_space, env.action_space)
    planner.learn(env, 0)
    return run_episode(planner, env).episode_return


def make_agent(cls: type[SB3Agent], mode: str = "grid", seed: int = 0, **config):
    """An agent of ``cls`` and the vector env its config asks for, on TinyGrid."""
    agent_config = replace(cls.config_class(), device="cpu", **config)
    venv = make_vector_env(TINY, {"observation_mode": mode}, agent_config.n_envs)
    agent = cls(venv.single_observation_space, venv.single_action_space, agent_config, seed)
    return agent, venv


class Recorder(Callback):
    """Keeps everything an agent reports; stops learning at ``stop_at`` steps."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.steps: list[int] = []
        self.episodes: list[EpisodeStats] = []
        self.updates: list[dict[str, float]] = []
        self.stop_at = stop_at

    def on_step(self, agent, num_steps):
        self.steps.append(num_steps)
        return self.stop_at is None or num_steps < self.stop_at

    def on_episode_end(self, agent, episode):
        self.episodes.append(episode)

    def on_update(self, agent, metrics):
        self.updates.append(metrics)


def test_registry_names_the_sb3_agents():
    assert [agent_class(n) for n in ("sb3_ppo", "sb3_a2c", "sb3_dqn")] == [SB3PPO, SB3A2C, SB3DQN]


def test_defaults_are_the_zoo_cartpole_hyperparameters():
    ppo = algorithm_kwargs(SB3PPOConfig())
    lr, clip = ppo.pop("learning_rate"), ppo.pop("clip_range")
    assert isinstance(lr, LinearSchedule) and isinstance(clip, LinearSchedule)
    assert (lr(1.0), lr(0.5), lr(0.0)) == (1e-3, 5e-4, 0.0)  # lin_0.001
    assert (clip(1.0), clip(0.0)) == (0.2, 0.0)  # lin_0.2
    assert SB3PPOConfig().n_envs == 8
    assert {k: ppo[k] for k in ("n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda")} == {
        "n_steps": 32,
        "batch_size": 256,
        "n_epochs": 20,
        "gamma": 0.98,
        "gae_lambda": 0.8,
    }
    assert ppo["ent_coef"] == 0.0
    dqn = algorithm_kwargs(SB3DQN.config_class())
    assert dqn == dqn | {
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "policy_kwargs": {"net_arch": [256, 256]},
    }
    a2c = SB3A2C.config_class()
    assert (a2c.n_envs, a2c.ent_coef) == (8, 0.0)


@pytest.mark.parametrize("cls", [SB3PPO, SB3A2C, SB3DQN])
def test_every_passed_through_field_is_an_argument_of_the_sb3_class(cls):
    params = inspect.signature(cls.algorithm.__init__).parameters
    config = cls.config_class()
    assert set(algorithm_kwargs(config)) <= set(params)
    # Every field is either palaestra's own or reaches SB3: a typo cannot be ignored.
    names = {f for f in config.__dataclass_fields__ if f not in OWN_FIELDS}
    assert names <= set(params)


def test_auto_policy_follows_the_observation_space():
    box = gym.spaces.Box
    assert resolve_policy("auto", gym.spaces.Discrete(9)) == "MlpPolicy"
    assert resolve_policy("auto", box(0, 1, (10, 3, 3), np.uint8)) == "MlpPolicy"  # not pixels
    assert resolve_policy("auto", box(0, 255, (40, 64, 3), np.uint8)) == "CnnPolicy"
    assert resolve_policy("auto", box(0, 255, (3, 40, 64), np.uint8)) == "CnnPolicy"
    assert resolve_policy("auto", box(0, 255, (24, 24, 3), np.uint8)) == "MlpPolicy"  # too small
    assert resolve_policy("auto", gym.spaces.Dict({"a": box(0, 1, (2,))})) == "MultiInputPolicy"
    assert resolve_policy("CnnPolicy", gym.spaces.Discrete(9)) == "CnnPolicy"


def test_ppo_learns_the_tinygrid_optimum():
    best = optimum(TINY)
    assert best == pytest.approx(0.97)  # 4 moves: 3 steps at -0.01, then +1
    eval_env = gym.make(TINY, observation_mode="grid")
    agent, venv = make_agent(SB3PPO, seed=0)
    assert run_episode(agent, eval_env).episode_return != pytest.approx(best)  # not by luck
    recorder = Recorder()
    agent.learn(venv, 2048, recorder)  # 8 rollouts of 32 steps x 8 envs
    assert agent.num_steps == 2048 == recorder.steps[-1]
    assert run_episode(agent, eval_env).episode_return == pytest.approx(best)
    assert all(e.episode_return <= best + 1e-9 and e.length >= 4 for e in recorder.episodes)
    assert recorder.episodes[-1].success


def test_callback_sees_all_envs_steps_episodes_and_sb3_train_values():
    agent, venv = make_agent(SB3PPO, seed=1, n_envs=4, n_steps=16, batch_size=64)
    recorder = Recorder(stop_at=200)
    agent.learn(venv, 1000, recorder)
    assert recorder.steps == list(range(4, 201, 4))  # one call per vector step, all envs
    assert agent.num_steps == 200  # False from on_step stops SB3 at once
    assert recorder.episodes and all(e.step in recorder.steps for e in recorder.episodes)
    # Each episode's return is -0.01 per step plus 1 at the goal, in float64 (not SB3's float32).
    for e in recorder.episodes:
        expected = -0.01 * (e.length - 1) + 1.0 if e.success else -0.01 * e.length
        assert e.episode_return == pytest.approx(expected, abs=1e-12)
    assert recorder.updates, "no train/* values reported"
    assert {"loss", "learning_rate", "entropy_loss", "clip_fraction"} <= set(recorder.updates[-1])
    more = Recorder()
    agent.learn(venv, 264, more)  # after a stop, learning restarts on freshly reset envs
    assert more.steps == list(range(204, 265, 4)) and agent.num_steps == 264
    assert all(e.length <= e.step - 200 for e in more.episodes)  # no episode from before


@pytest.mark.parametrize("cls", [SB3PPO, SB3A2C, SB3DQN])
def test_saved_agent_loads_and_acts_identically(cls, tmp_path):
    agent, venv = make_agent(cls, seed=3, **QUICK[cls])
    agent.learn(venv, 256)
    path = agent.save(tmp_path / f"agent{cls.checkpoint_suffix}")
    assert path.suffix == ".zip" and not list(tmp_path.glob(".*.tmp"))
    loaded = cls.load(path)
    assert (loaded.num_steps, loaded.seed, loaded.config) == (agent.num_steps, 3, agent.config)
    assert (loaded.observation_space, loaded.action_space) == (
        agent.observation_space,
        agent.action_space,
    )
    ours, theirs = agent.model.policy.state_dict(), loaded.model.policy.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    observations = [agent.observation_space.sample() for _ in range(200)]  # random planes
    assert [agent.act(o) for o in observations] == [loaded.act(o) for o in observations]
    assert len({agent.act(o) for o in observations}) > 1  # a policy, not a constant


def test_checkpoint_is_a_plain_sb3_zip_and_resumes_training(tmp_path):
    agent, venv = make_agent(SB3PPO, seed=4)
    agent.learn(venv, 512)
    path = agent.save(tmp_path / "ppo.zip")
    assert PPO.load(path).num_timesteps == 512  # usable outside palaestra
    loaded = SB3PPO.load(path)
    recorder = Recorder()
    loaded.learn(venv, 1024, recorder)
    assert recorder.steps[0] == 512 + 8 and loaded.num_steps == 1024


def test_load_rejects_other_agents_and_foreign_files(tmp_path):
    agent, _ = make_agent(SB3DQN, mode="coords")
    path = agent.save(tmp_path / "dqn.zip")
    with pytest.raises(ValueError, match="'sb3_dqn' agent, not 'sb3_ppo'"):
        SB3PPO.load(path)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("data", "{}")
    with pytest.raises(ValueError, match="not a palaestra SB3 checkpoint"):
        SB3PPO.load(tmp_path / "other.zip")


def test_spaces_sb3_cannot_handle_fail_at_construction():
    with pytest.raises(ValueError, match="only supports"):
        SB3DQN(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (1,)))


def test_env_of_another_size_or_space_is_refused():
    agent, _ = make_agent(SB3PPO, n_envs=2, batch_size=64)
    with pytest.raises(ValueError, match="n_envs=2"):
        agent.learn(make_vector_env(TINY, {"observation_mode": "grid"}, 3), 100)
    with pytest.raises(ValueError, match="observation space"):
        agent.learn(make_vector_env(TINY, {"observation_mode": "coords"}, 2), 100)


def test_a_single_env_is_copied_up_to_n_envs():
    agent, _ = make_agent(SB3PPO, n_envs=2, n_steps=8, batch_size=16)
    recorder = Recorder()
    agent.learn(gym.make(TINY, observation_mode="grid"), 32, recorder)
    assert recorder.steps == list(range(2, 33, 2))


@pytest.mark.slow
def test_ppo_learns_the_gridworld_optimum():
    """The default 5x8 room (wall, hole, optimum 0.9): about 6 s on 2 busy cores."""
    env_id = "palaestra/GridWorld-v0"
    venv = make_vector_env(env_id, {"observation_mode": "grid"}, 8)
    agent = SB3PPO(venv.single_observation_space, venv.single_action_space, seed=0)
    agent.learn(venv, 12_288)
    result = run_episode(agent, gym.make(env_id, observation_mode="grid"))
    assert result.episode_return == pytest.approx(optimum(env_id))
