"""Tabular multi-agent learners: IQL's known miscoordination on the Climbing and Penalty
games, the coordination-aware learners reaching the optimum, the update rules on
hand-computed TD errors, team-episode bookkeeping, and checkpoints."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv

from agents.base import Callback, EpisodeStats
from agents.evaluation import run_team_episode
from agents.multiagent import (
    HystereticQConfig,
    HystereticQLearning,
    IndependentQLearning,
    IQLConfig,
    LenientQConfig,
    LenientQLearning,
    MultiAgentLearner,
    TeamEpisode,
)
from envs.multiagent import parallel_env
from envs.multiagent.matrix_games import MatrixGameEnv, cooperative_game

CLASSES = [IndependentQLearning, HystereticQLearning, LenientQLearning]
PLAYS = 5_000
SEEDS = range(5)


def matrix_config(cls: type[IndependentQLearning], stateless: bool, **overrides: Any) -> Any:
    """The standard repeated-matrix-game setting: each play a bandit (gamma 0), exploration
    decaying from 1 to 0 over 80% of the plays, each learner's default step sizes."""
    settings = {
        "gamma": 0.0,
        "stateless": stateless,
        "epsilon_start": 1.0,
        "epsilon_end": 0.0,
        "epsilon_decay_fraction": 0.8,
        **overrides,
    }
    return cls.config_class(**settings)


def greedy_outcome(learner: MultiAgentLearner, env: ParallelEnv) -> tuple[tuple[int, int], float]:
    """The joint action greedy play ends the episode on, and the mean payoff per round."""
    result = run_team_episode(learner, env)
    return result.info["joint_action"], result.episode_return / result.length


def outcomes(
    cls: type[IndependentQLearning], env_id: str, stateless: bool, **env_kwargs: Any
) -> list[tuple[tuple[int, int], float]]:
    results = []
    for seed in SEEDS:
        env = parallel_env(env_id, **env_kwargs)
        learner = cls.for_env(env, matrix_config(cls, stateless), seed=seed)
        learner.learn(env, total_steps=PLAYS)
        results.append(greedy_outcome(learner, env))
    return results


# ---------------------------------------------------------------------- learning


@pytest.fixture(scope="module", params=[True, False], ids=["stateless", "memory_one"])
def climbing(request: pytest.FixtureRequest) -> dict[str, Counter]:
    """Greedy joint actions after learning the Climbing game, per learner, over SEEDS."""
    return {
        cls.name: Counter(
            joint for joint, _ in outcomes(cls, "palaestra/ClimbingGame-v0", request.param)
        )
        for cls in CLASSES
    }


def test_iql_settles_on_a_suboptimal_joint_action_in_the_climbing_game(
    climbing: dict[str, Counter],
) -> None:
    # The known failure (Claus & Boutilier 1998): exploring partners make (a, a) look worse
    # than the safe (c, c) = 5. Measured: (c, c) in 5 of 5 seeds in both settings.
    iql = climbing["iql"]
    assert iql[(0, 0)] == 0
    assert iql[(2, 2)] + iql[(1, 1)] >= 4


@pytest.mark.parametrize("name", ["hysteretic_q", "lenient_q"])
def test_coordination_aware_learners_find_the_climbing_optimum(
    climbing: dict[str, Counter], name: str
) -> None:
    # Measured: (a, a) = 11 in 5 of 5 seeds for both, in both settings.
    assert climbing[name][(0, 0)] >= 4
    assert climbing[name][(0, 0)] > climbing["iql"][(0, 0)]


def test_penalty_game_with_k_minus_100_iql_picks_the_safe_action_others_an_optimum() -> None:
    payoffs = {
        cls.name: [
            payoff for _, payoff in outcomes(cls, "palaestra/PenaltyGame-v0", True, k=-100.0)
        ]
        for cls in CLASSES
    }
    # IQL: (b, b) = 2 in every seed; the others: (a, a) or (c, c) = 10 in every seed.
    assert payoffs["iql"] == [2.0] * len(SEEDS)
    assert payoffs["hysteretic_q"] == [10.0] * len(SEEDS)
    assert payoffs["lenient_q"] == [10.0] * len(SEEDS)


def test_truncation_bootstraps_from_the_last_observation() -> None:
    # Every play pays 1 and each episode is one play cut by max_cycles, so Q converges to
    # 1 / (1 - gamma) = 2 if truncation bootstraps, and to 1 if it were treated as the end.
    env = MatrixGameEnv(cooperative_game("ones", [[1, 1], [1, 1]], ("x", "y"), ""), max_cycles=1)
    config = IQLConfig(alpha=0.5, gamma=0.5, stateless=True)
    learner = IndependentQLearning.for_env(env, config, seed=0)
    learner.learn(env, total_steps=400)
    np.testing.assert_allclose(learner.q, 2.0, atol=1e-6)


def test_the_same_seed_learns_the_same_tables() -> None:
    tables = []
    for _ in range(2):
        env = parallel_env("palaestra/ClimbingGame-v0")
        learner = LenientQLearning.for_env(env, matrix_config(LenientQLearning, False), seed=7)
        learner.learn(env, total_steps=1_000)
        tables.append(learner.q.copy())
    np.testing.assert_array_equal(tables[0], tables[1])


# ---------------------------------------------------------------------- update rules


def fresh(cls: type[IndependentQLearning], **config: Any) -> IndependentQLearning:
    learner = cls(
        spaces.Discrete(2),
        spaces.Discrete(3),
        cls.config_class(alpha=0.1, gamma=0.5, **config),
        seed=0,
        agents=["agent_0", "agent_1"],
    )
    learner.q[0, 0] = [2.0, 1.0, 0.0]
    learner.q[0, 1] = [4.0, -1.0, 3.0]
    return learner


@pytest.mark.parametrize("cls", CLASSES)
def test_a_positive_td_error_moves_q_by_alpha(cls: type[IndependentQLearning]) -> None:
    learner = fresh(cls)
    # Target 5 + 0.5 * max(4, -1, 3) = 7; Q(0, 0) = 2, so the TD error is 5.
    assert learner.update(0, 0, 0, 5.0, 1, terminated=False) == pytest.approx(5.0)
    assert learner.q[0, 0, 0] == pytest.approx(2.0 + 0.1 * 5.0)
    # Terminated: no bootstrap, target 5 and TD error 5 - 1 = 4 for action 1.
    assert learner.update(0, 0, 1, 5.0, 1, terminated=True) == pytest.approx(4.0)
    assert learner.q[0, 0, 1] == pytest.approx(1.0 + 0.1 * 4.0)
    # Agent 1's table is its own.
    np.testing.assert_array_equal(learner.q[1], 0.0)


def test_iql_moves_q_by_alpha_on_a_negative_td_error() -> None:
    learner = fresh(IndependentQLearning)
    # Target -30 + 0.5 * 4 = -28, TD error -30.
    assert learner.update(0, 0, 0, -30.0, 1, terminated=False) == pytest.approx(-30.0)
    assert learner.q[0, 0, 0] == pytest.approx(2.0 - 0.1 * 30.0)


def test_hysteretic_moves_q_by_beta_on_a_negative_td_error() -> None:
    learner = fresh(HystereticQLearning, beta=0.01)
    assert learner.update(0, 0, 0, -30.0, 1, terminated=False) == pytest.approx(-30.0)
    assert learner.q[0, 0, 0] == pytest.approx(2.0 - 0.01 * 30.0)


def test_hysteretic_beta_keeps_its_ratio_to_a_decayed_alpha() -> None:
    learner = fresh(HystereticQLearning, beta=0.01)
    learner.alpha = 0.05  # as the alpha_end schedule would set it
    learner.update(0, 0, 0, -30.0, 1, terminated=False)
    assert learner.q[0, 0, 0] == pytest.approx(2.0 - 0.005 * 30.0)


def test_lenient_ignores_a_negative_td_error_while_hot_and_cools_the_pair() -> None:
    learner = fresh(LenientQLearning, max_temperature=50.0, temperature_decay=0.9, leniency_k=1.0)
    assert learner.leniency(0, 0, 0) == 1.0  # 1 - exp(-50) rounds to 1: always forgiven
    learner.update(0, 0, 0, -30.0, 1, terminated=False)
    assert learner.q[0, 0, 0] == 2.0
    assert learner.temperature[0, 0, 0] == pytest.approx(45.0)
    assert learner.temperature[0, 0, 1] == 50.0
    # A positive error is never forgiven.
    learner.update(0, 0, 0, 5.0, 1, terminated=False)
    assert learner.q[0, 0, 0] == pytest.approx(2.5)
    assert learner.temperature[0, 0, 0] == pytest.approx(40.5)


def test_lenient_applies_a_negative_td_error_once_cold() -> None:
    learner = fresh(LenientQLearning, leniency_k=1.0)
    learner.temperature[0, 0, 0] = 0.0
    assert learner.leniency(0, 0, 0) == 0.0
    learner.update(0, 0, 0, -30.0, 1, terminated=False)
    assert learner.q[0, 0, 0] == pytest.approx(2.0 - 0.1 * 30.0)


def test_lenient_leniency_follows_its_formula() -> None:
    learner = fresh(LenientQLearning, leniency_k=2.0)
    learner.temperature[0, 1, 2] = 0.3
    assert learner.leniency(0, 1, 2) == pytest.approx(1.0 - math.exp(-0.6))


# ---------------------------------------------------------------------- episodes


def test_team_episode_averages_agent_returns_and_waits_for_the_last_agent() -> None:
    episode = TeamEpisode()
    episode.start(["a", "b"])
    no, yes = {"a": False, "b": False}, {"a": True, "b": False}
    assert episode.record({"a": 1.0, "b": 3.0}, no, no, {"a": {}, "b": {}}, 1) is None
    # "a" finishes (successfully) first; "b" plays on alone.
    assert episode.record({"a": 2.0, "b": 0.0}, yes, no, {"a": {"is_success": True}}, 2) is None
    assert not episode.done
    stats = episode.record({"b": 4.0}, {}, {"b": True}, {"b": {"is_success": True}}, 3)
    assert stats == EpisodeStats(step=3, episode_return=(3.0 + 7.0) / 2, length=3, success=True)
    assert episode.done


def test_team_episode_fails_when_any_agent_does_not_report_success() -> None:
    episode = TeamEpisode()
    episode.start(["a", "b"])
    done = {"a": True, "b": True}
    stats = episode.record({"a": 1, "b": 1}, {}, done, {"a": {"is_success": True}, "b": {}}, 9)
    assert stats is not None and not stats.success


class Recorder(Callback):
    def __init__(self, stop_at: int | None = None) -> None:
        self.episodes: list[EpisodeStats] = []
        self.steps: list[int] = []
        self.stop_at = stop_at

    def on_episode_end(self, agent: Any, episode: EpisodeStats) -> None:
        self.episodes.append(episode)

    def on_step(self, agent: Any, num_steps: int) -> bool:
        self.steps.append(num_steps)
        return num_steps != self.stop_at


def test_learn_counts_parallel_steps_and_reports_team_returns() -> None:
    # Stag hunt is general-sum: a lone stag hunter gets 0 while the hare hunter gets 3, so
    # the team return (the mean of the two) differs from either agent's return.
    env = parallel_env("palaestra/StagHunt-v0", max_cycles=4)
    learner = IndependentQLearning.for_env(env, seed=1)
    recorder = Recorder()
    returns: list[float] = []
    original_step = env.step

    def step(actions: dict[str, int]) -> Any:
        out = original_step(actions)
        returns.append(sum(out[1].values()) / 2)
        return out

    env.step = step  # type: ignore[method-assign]
    learner.learn(env, total_steps=12, callback=recorder)
    assert learner.num_steps == 12
    assert recorder.steps == list(range(1, 13))
    assert [e.step for e in recorder.episodes] == [4, 8, 12]
    assert [e.length for e in recorder.episodes] == [4, 4, 4]
    expected = [sum(returns[i : i + 4]) for i in (0, 4, 8)]
    assert [e.episode_return for e in recorder.episodes] == pytest.approx(expected)
    assert not any(e.success for e in recorder.episodes)  # matrix games report no success


def test_a_callback_stops_learning() -> None:
    env = parallel_env("palaestra/ClimbingGame-v0")
    learner = HystereticQLearning.for_env(env, seed=0)
    learner.learn(env, total_steps=100, callback=Recorder(stop_at=30))
    assert learner.num_steps == 30


def test_learn_rejects_an_env_with_other_spaces() -> None:
    climbing = parallel_env("palaestra/ClimbingGame-v0")
    learner = IndependentQLearning.for_env(parallel_env("palaestra/StagHunt-v0"))
    with pytest.raises(ValueError, match=r"observation space of agent 'agent_0' is Discrete\(10\)"):
        learner.learn(climbing, total_steps=10)


# ---------------------------------------------------------------------- observations


class LastActionsGame(ParallelEnv):
    """A repeated 2x2 coordination game whose agents observe the previous joint action as a
    float Box ``[a0, a1]`` (``[-1, -1]`` before the first play)."""

    metadata = {"name": "last_actions_v0"}

    def __init__(self, max_cycles: int = 5) -> None:
        self.possible_agents = ["p0", "p1"]
        self.agents: list[str] = []
        self.max_cycles = max_cycles
        self._obs_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._act_space = spaces.Discrete(2)
        self._last = np.array([-1.0, -1.0], dtype=np.float32)
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.agents = list(self.possible_agents)
        self._last = np.array([-1.0, -1.0], dtype=np.float32)
        self._t = 0
        return {a: self._last.copy() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        a0, a1 = actions["p0"], actions["p1"]
        self._last = np.array([a0, a1], dtype=np.float32)
        self._t += 1
        reward = 1.0 if a0 == a1 else 0.0
        agents, over = self.agents, self._t >= self.max_cycles
        self.agents = [] if over else agents
        return (
            {a: self._last.copy() for a in agents},
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, over),
            {a: {} for a in agents},
        )


def test_box_observations_get_a_row_each_in_order_of_first_sight() -> None:
    env = LastActionsGame()
    learner = HystereticQLearning.for_env(env, seed=0)
    learner.learn(env, total_steps=200)
    keys = learner.index.keys
    assert keys.shape == (5, 2)  # the start [-1, -1] and the 4 joint actions
    np.testing.assert_array_equal(keys[0], [-1.0, -1.0])
    assert {tuple(k) for k in keys[1:]} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert learner.index.row(np.array([1, 0], dtype=np.float32), add=False) is not None


def test_an_unseen_observation_acts_from_the_initial_row_without_adding_one() -> None:
    learner = IndependentQLearning.for_env(LastActionsGame(), seed=0)
    learner.q[:] = 5.0
    assert learner.act({"p0": np.array([0.5, 0.5])}) == {"p0": 0}
    assert learner.index.keys.shape == (0, 2)


def test_more_distinct_observations_than_max_states_fail_loudly() -> None:
    env = LastActionsGame()
    learner = IndependentQLearning.for_env(env, IQLConfig(max_states=3), seed=0)
    with pytest.raises(ValueError, match="max_states=3"):
        learner.learn(env, total_steps=200)


def test_discrete_observations_outside_the_space_fail_loudly() -> None:
    learner = IndependentQLearning.for_env(parallel_env("palaestra/ClimbingGame-v0"))
    with pytest.raises(ValueError, match="outside Discrete"):
        learner.act({"agent_0": 10})


def test_configs_reject_bad_values_and_learners_bad_config_types() -> None:
    with pytest.raises(ValueError, match="beta"):
        HystereticQConfig(alpha=0.1, beta=0.2)
    with pytest.raises(ValueError, match="temperature_decay"):
        LenientQConfig(temperature_decay=0.0)
    with pytest.raises(ValueError, match="max_states"):
        IQLConfig(max_states=0)
    env = parallel_env("palaestra/ClimbingGame-v0")
    with pytest.raises(TypeError, match="HystereticQConfig"):
        HystereticQLearning.for_env(env, IQLConfig())


# ---------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("cls", CLASSES)
def test_a_loaded_learner_acts_and_learns_on_identically(
    cls: type[IndependentQLearning], tmp_path: Path
) -> None:
    env = parallel_env("palaestra/ClimbingGame-v0")
    learner = cls.for_env(env, matrix_config(cls, stateless=False), seed=3)
    learner.learn(env, total_steps=1_000)
    loaded = cls.load(learner.save(tmp_path / "learner.npz"))
    assert type(loaded) is cls
    assert loaded.config == learner.config
    assert loaded.agents == learner.agents
    assert loaded.num_steps == learner.num_steps
    np.testing.assert_array_equal(loaded.q, learner.q)
    observations = [{agent: np.int64(s) for agent in learner.agents} for s in range(10)]
    assert [loaded.act(o) for o in observations] == [learner.act(o) for o in observations]
    # Exploring too: same generator state, same epsilon, same draws.
    learner.epsilon = loaded.epsilon = 0.5
    assert [loaded.act(o, deterministic=False) for o in observations] == [
        learner.act(o, deterministic=False) for o in observations
    ]
    # The matrix game is deterministic, so resumed training matches uninterrupted training.
    learner.learn(env, total_steps=2_000)
    loaded.learn(parallel_env("palaestra/ClimbingGame-v0"), total_steps=2_000)
    np.testing.assert_array_equal(loaded.q, learner.q)


def test_box_observation_rows_survive_a_checkpoint(tmp_path: Path) -> None:
    env = LastActionsGame()
    learner = LenientQLearning.for_env(env, seed=0)
    learner.learn(env, total_steps=300)
    loaded = LenientQLearning.load(learner.save(tmp_path / "lenient.npz"))
    np.testing.assert_array_equal(loaded.index.keys, learner.index.keys)
    np.testing.assert_array_equal(loaded.temperature, learner.temperature)
    for key in learner.index.keys:
        obs = {"p0": key, "p1": key}
        assert loaded.act(obs) == learner.act(obs)


def test_loading_another_learners_checkpoint_names_it(tmp_path: Path) -> None:
    learner = IndependentQLearning.for_env(parallel_env("palaestra/ClimbingGame-v0"))
    path = learner.save(tmp_path / "iql.npz")
    with pytest.raises(ValueError, match="holds a 'iql' agent"):
        HystereticQLearning.load(path)
