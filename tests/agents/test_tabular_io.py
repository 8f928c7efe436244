"""Tabular checkpoints: a loaded agent acts and keeps learning exactly as the saved one."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agents.tabular import (
    DynaQ,
    ExpectedSarsa,
    QLearning,
    Sarsa,
    TabularAgent,
    TDAgent,
    ValueIteration,
)

TD_CLASSES = [QLearning, Sarsa, ExpectedSarsa, DynaQ]


def trained(cls: type[TabularAgent], steps: int = 2_000) -> tuple[TabularAgent, gym.Env]:
    env = gym.make("CliffWalking-v1")
    agent = cls(env.observation_space, env.action_space, seed=3)
    agent.learn(env, total_steps=steps)
    return agent, env


@pytest.mark.parametrize("cls", [*TD_CLASSES, ValueIteration])
def test_a_loaded_agent_acts_identically(cls: type[TabularAgent], tmp_path: Path) -> None:
    agent, _ = trained(cls)
    path = agent.save(tmp_path / "agent.npz")
    loaded = cls.load(path)
    assert type(loaded) is cls
    assert loaded.config == agent.config
    assert loaded.num_steps == agent.num_steps
    np.testing.assert_array_equal(loaded.q, agent.q)
    states = range(agent.n_states)
    assert [loaded.act(s) for s in states] == [agent.act(s) for s in states]
    # The exploring policy too: same rng state, same epsilon, same draws.
    assert [loaded.act(s, deterministic=False) for s in states] == [
        agent.act(s, deterministic=False) for s in states
    ]


@pytest.mark.parametrize("cls", TD_CLASSES)
def test_a_loaded_agent_continues_learning_as_the_original_would(
    cls: type[TDAgent], tmp_path: Path
) -> None:
    # CliffWalking is deterministic, so a fresh env and the original one behave alike and
    # the resumed run must match the uninterrupted one bit for bit (Dyna-Q's model included).
    agent, env = trained(cls)
    loaded = cls.load(agent.save(tmp_path / "agent.npz"))
    agent.learn(env, total_steps=4_000)
    loaded.learn(gym.make("CliffWalking-v1"), total_steps=4_000)
    assert loaded.num_steps == agent.num_steps == 4_000
    np.testing.assert_array_equal(loaded.q, agent.q)


def test_the_base_class_loads_whichever_agent_is_stored(tmp_path: Path) -> None:
    agent, _ = trained(Sarsa, steps=100)
    assert type(TabularAgent.load(agent.save(tmp_path / "a.npz"))) is Sarsa
    assert type(TDAgent.load(tmp_path / "a.npz")) is Sarsa


def test_saving_is_atomic_and_writes_exactly_the_given_path(tmp_path: Path) -> None:
    agent, _ = trained(QLearning, steps=100)
    written = agent.save(tmp_path / "run" / "checkpoint")
    assert written == tmp_path / "run" / "checkpoint"
    assert sorted(p.name for p in written.parent.iterdir()) == ["checkpoint"]


def test_loading_another_agent_names_both(tmp_path: Path) -> None:
    agent, _ = trained(Sarsa, steps=100)
    path = agent.save(tmp_path / "sarsa.npz")
    with pytest.raises(ValueError, match=r"holds a 'sarsa' agent, not 'q_learning'"):
        QLearning.load(path)
    with pytest.raises(ValueError, match=r"holds a 'sarsa' agent, not 'dyna_q'"):
        DynaQ.load(path)


def test_loading_a_value_iteration_file_as_a_td_agent_fails(tmp_path: Path) -> None:
    agent, _ = trained(ValueIteration)
    with pytest.raises(ValueError, match="not a TDAgent"):
        TDAgent.load(agent.save(tmp_path / "vi.npz"))


def _corrupt_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    files = {}
    files["text"] = tmp_path / "text.npz"
    files["text"].write_text("not a checkpoint")
    files["truncated"] = tmp_path / "truncated.npz"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["single array"] = tmp_path / "array.npy"
    np.save(files["single array"], np.zeros(3))
    files["other npz"] = tmp_path / "other.npz"
    np.savez(files["other npz"], weights=np.zeros(3))
    files["bad config"] = tmp_path / "bad_config.npz"
    with np.load(good) as data:
        arrays = {key: data[key] for key in data.files}
    np.savez(files["bad config"], **{**arrays, "config": np.array('{"alpha": 7}')})
    files["bad model"] = tmp_path / "bad_model.npz"
    np.savez(files["bad model"], **{**arrays, "model_reward": np.zeros(1)})
    return files


def test_corrupt_or_foreign_files_raise_a_clear_error(tmp_path: Path) -> None:
    agent, _ = trained(DynaQ, steps=200)
    good = agent.save(tmp_path / "good.npz")
    for what, path in _corrupt_files(tmp_path, good).items():
        with pytest.raises(ValueError, match=str(path.name)) as caught:
            DynaQ.load(path)
        assert "checkpoint" in str(caught.value) or "agent file" in str(caught.value), what
    with pytest.raises(FileNotFoundError):
        DynaQ.load(tmp_path / "missing.npz")


def test_checkpoints_hold_no_pickles(tmp_path: Path) -> None:
    agent, _ = trained(DynaQ, steps=200)
    with np.load(agent.save(tmp_path / "agent.npz"), allow_pickle=False) as data:
        for key in data.files:
            assert data[key].dtype != object, key  # reading would have raised for a pickle
