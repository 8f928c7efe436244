"""One-step TD agents: exact update values on hand cases, and the shared loop's contract."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.base import Callback, EpisodeStats
from agents.registry import MULTIAGENT_AGENTS, agent_class, agent_names
from agents.tabular import (
    DynaQ,
    DynaQConfig,
    ExpectedSarsa,
    ExpectedSarsaConfig,
    QLearning,
    QLearningConfig,
    Sarsa,
    SarsaConfig,
    TDAgent,
)

ALPHA, GAMMA = 0.5, 0.9
TD_CLASSES = [QLearning, Sarsa, ExpectedSarsa, DynaQ]


def make_agent(
    cls: type[TDAgent], n_states: int = 3, n_actions: int = 2, **overrides: Any
) -> TDAgent:
    """An agent with the hand-case step size and discount, exploration off unless overridden."""
    params = {"alpha": ALPHA, "gamma": GAMMA, "epsilon_start": 0.0, "epsilon_end": 0.0}
    params.update(overrides)
    space = gym.spaces.Discrete
    return cls(space(n_states), space(n_actions), cls.config_class(**params), seed=0)


class ScriptedEnv(gym.Env):
    """Plays a fixed list of (next_state, reward, terminated, truncated) whatever the action.

    Episodes restart from state 0; every reset's seed is recorded.
    """

    def __init__(
        self,
        script: list[tuple[int, float, bool, bool]],
        n_states: int = 3,
        n_actions: int = 2,
        info: dict | None = None,
    ) -> None:
        self.observation_space = gym.spaces.Discrete(n_states)
        self.action_space = gym.spaces.Discrete(n_actions)
        self.script = script
        self.info = info if info is not None else {}
        self.position = 0
        self.reset_seeds: list[int | None] = []
        self.actions: list[int] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.reset_seeds.append(seed)
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        self.actions.append(int(action))
        s2, r, terminated, truncated = self.script[self.position % len(self.script)]
        self.position += 1
        return s2, r, terminated, truncated, dict(self.info)


# ------------------------------------------------------------------ hand-computed updates


def test_q_learning_update_moves_towards_reward_plus_discounted_max() -> None:
    agent = make_agent(QLearning)
    agent.q[0, 1] = 1.0
    agent.q[2] = [1.0, 3.0]
    td = agent.update(0, 1, 2.0, 2, None, False)
    # target 2 + 0.9 * 3 = 4.7; error 3.7; 1 + 0.5 * 3.7
    assert td == pytest.approx(3.7)
    assert agent.q[0, 1] == pytest.approx(2.85)


def test_sarsa_update_uses_the_next_action_taken_not_the_best() -> None:
    agent = make_agent(Sarsa)
    agent.q[0, 1] = 1.0
    agent.q[2] = [1.0, 3.0]
    agent.update(0, 1, 2.0, 2, 0, False)
    assert agent.q[0, 1] == pytest.approx(1.0 + ALPHA * (2.0 + GAMMA * 1.0 - 1.0))


def test_expected_sarsa_update_averages_under_epsilon_greedy() -> None:
    agent = make_agent(ExpectedSarsa)
    agent.epsilon = 0.2
    agent.q[0, 1] = 1.0
    agent.q[2] = [1.0, 3.0]
    agent.update(0, 1, 2.0, 2, None, False)
    expected_next = 0.2 * (1.0 + 3.0) / 2 + 0.8 * 3.0  # = 2.8
    assert agent.q[0, 1] == pytest.approx(1.0 + ALPHA * (2.0 + GAMMA * expected_next - 1.0))


@pytest.mark.parametrize("cls", TD_CLASSES)
def test_termination_drops_the_bootstrap_term(cls: type[TDAgent]) -> None:
    agent = make_agent(cls, planning_steps=0) if cls is DynaQ else make_agent(cls)
    agent.q[0, 0] = 1.0
    agent.q[2] = [10.0, 10.0]
    agent.update(0, 0, 2.0, 2, None, True)
    assert agent.q[0, 0] == pytest.approx(1.0 + ALPHA * (2.0 - 1.0))


def test_dyna_q_without_planning_is_exactly_q_learning() -> None:
    rng = np.random.default_rng(1)
    plain, dyna = make_agent(QLearning), make_agent(DynaQ, planning_steps=0)
    for _ in range(200):
        s, a, s2 = rng.integers(3), rng.integers(2), rng.integers(3)
        r, terminated = float(rng.normal()), bool(rng.random() < 0.2)
        plain.update(s, a, r, s2, None, terminated)
        dyna.update(s, a, r, s2, None, terminated)
    np.testing.assert_array_equal(plain.q, dyna.q)


def test_dyna_q_planning_replays_the_remembered_transition() -> None:
    # One terminal transition remembered: the real update and n replays each move Q a
    # fraction alpha of the remaining gap to r, so Q = r * (1 - (1 - alpha)^(n + 1)).
    n = 5
    agent = make_agent(DynaQ, planning_steps=n)
    agent.update(1, 0, 4.0, 2, None, True)
    assert agent.q[1, 0] == pytest.approx(4.0 * (1 - (1 - ALPHA) ** (n + 1)))


def test_dyna_q_model_keeps_the_last_outcome_of_a_stochastic_pair() -> None:
    agent = make_agent(DynaQ, planning_steps=0)
    agent.update(0, 1, 1.0, 1, None, False)
    agent.update(0, 1, -1.0, 2, None, True)
    agent.q[...] = 0.0
    agent.plan(3)  # only (0, 1) is known; its model now says: -1, terminal
    assert agent.q[0, 1] == pytest.approx(-1.0 * (1 - (1 - ALPHA) ** 3))
    assert agent.q[0, 0] == 0.0


# ------------------------------------------------------------------ the shared loop


@pytest.mark.parametrize("cls", TD_CLASSES)
def test_truncation_bootstraps_and_termination_does_not(cls: type[TDAgent]) -> None:
    for terminated, expected in ((False, ALPHA * GAMMA * 5.0), (True, 0.0)):
        agent = make_agent(cls, planning_steps=0) if cls is DynaQ else make_agent(cls)
        agent.q[1] = [5.0, 5.0]
        env = ScriptedEnv([(1, 0.0, terminated, not terminated)])
        agent.learn(env, total_steps=1)
        taken = env.actions[0]
        assert agent.q[0, taken] == pytest.approx(expected)
        assert agent.q[0, 1 - taken] == 0.0


class Recorder(Callback):
    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.episodes: list[EpisodeStats] = []
        self.updates: list[dict[str, float]] = []
        self.steps: list[int] = []

    def on_step(self, agent: Any, num_steps: int) -> bool:
        self.steps.append(num_steps)
        return num_steps != self.stop_at

    def on_episode_end(self, agent: Any, episode: EpisodeStats) -> None:
        self.episodes.append(episode)

    def on_update(self, agent: Any, metrics: dict[str, float]) -> None:
        self.updates.append(metrics)


def test_loop_reports_episodes_steps_and_per_episode_metrics() -> None:
    script = [(1, -1.0, False, False), (2, 3.0, True, False), (1, 0.0, False, True)]
    env = ScriptedEnv(script)
    recorder = Recorder()
    agent = make_agent(QLearning)
    agent.learn(env, total_steps=4, callback=recorder)
    assert recorder.steps == [1, 2, 3, 4]
    # Episode 1: two steps ending in a rewarded termination (success by reward, no info).
    # Episode 2: truncated after one step, not a success. Step 4 starts a third episode.
    assert recorder.episodes == [EpisodeStats(2, 2.0, 2, True), EpisodeStats(3, 0.0, 1, False)]
    assert [set(m) for m in recorder.updates] == [{"epsilon", "td_error"}] * 2
    # From an all-zero table the TD errors of episode 1 are the rewards: |-1| and |3|.
    assert recorder.updates[0]["td_error"] == pytest.approx((1.0 + 3.0) / 2)


def test_success_comes_from_info_when_the_env_provides_it() -> None:
    env = ScriptedEnv([(2, 3.0, True, False)], info={"is_success": False})
    recorder = Recorder()
    make_agent(QLearning).learn(env, total_steps=1, callback=recorder)
    assert recorder.episodes[0].success is False


def test_a_false_from_on_step_stops_learning_at_that_step() -> None:
    agent = make_agent(Sarsa)
    agent.learn(
        ScriptedEnv([(1, 0.0, False, False)]), total_steps=100, callback=Recorder(stop_at=7)
    )
    assert agent.num_steps == 7


def test_learn_continues_from_num_steps_and_seeds_only_a_fresh_agent() -> None:
    env = ScriptedEnv([(1, 0.0, False, False), (2, 1.0, True, False)])
    agent = make_agent(QLearning)
    agent.seed = 123
    agent.learn(env, total_steps=4)
    assert agent.num_steps == 4
    agent.learn(env, total_steps=4)  # nothing left to do: no reset, no step
    assert agent.num_steps == 4
    agent.learn(env, total_steps=6)
    assert agent.num_steps == 6
    # Two episodes in the first call (no reset after the last step), one new in the second.
    assert env.reset_seeds == [123, None, None]


def test_epsilon_follows_the_schedule_by_global_step() -> None:
    agent = make_agent(QLearning, epsilon_start=1.0, epsilon_end=0.0, epsilon_decay_steps=10)
    agent.learn(ScriptedEnv([(1, 0.0, False, False)]), total_steps=4)
    assert agent.epsilon == pytest.approx(0.6)
    agent.learn(ScriptedEnv([(1, 0.0, False, False)]), total_steps=20)
    assert agent.epsilon == 0.0


def test_alpha_decays_to_alpha_end_by_total_steps() -> None:
    agent = make_agent(QLearning, alpha=0.5, alpha_end=0.1)
    agent.learn(ScriptedEnv([(1, 0.0, False, False)]), total_steps=10)
    assert agent.alpha == pytest.approx(0.1)


def test_exploring_breaks_ties_at_random_but_acting_greedily_does_not() -> None:
    agent = make_agent(QLearning, n_states=1, n_actions=4)
    agent.q[0] = [0.0, 2.0, 2.0, 2.0]
    explored = [agent.explore(0) for _ in range(600)]
    counts = np.bincount(explored, minlength=4)
    assert counts[0] == 0 and counts[1:].min() > 150
    assert {agent.act(0) for _ in range(20)} == {1}


def test_exploring_takes_random_actions_at_rate_epsilon() -> None:
    agent = make_agent(QLearning, n_states=1, n_actions=4)
    agent.q[0] = [0.0, 0.0, 5.0, 0.0]
    agent.epsilon = 0.4
    greedy_share = np.mean([agent.explore(0) == 2 for _ in range(20_000)])
    assert greedy_share == pytest.approx(0.6 + 0.4 / 4, abs=0.015)


@pytest.mark.parametrize("cls", TD_CLASSES)
def test_the_same_seed_learns_the_same_table(cls: type[TDAgent]) -> None:
    tables = []
    for _ in range(2):
        env = gym.make("FrozenLake-v1")
        agent = cls(env.observation_space, env.action_space, seed=7)
        agent.learn(env, total_steps=3_000)
        tables.append(agent.q)
    np.testing.assert_array_equal(tables[0], tables[1])
    assert np.abs(tables[0]).sum() > 0


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("observation_space", "action_space", "message"),
    [
        (
            gym.spaces.Box(0, 1, (2,)),
            gym.spaces.Discrete(4),
            r'Discrete observation space, got Box.*observation_mode="index"',
        ),
        (
            gym.spaces.Discrete(5),
            gym.spaces.MultiDiscrete([2, 2]),
            "Discrete action space, got MultiDiscrete",
        ),
        (gym.spaces.Discrete(5, start=1), gym.spaces.Discrete(2), "starting at 0"),
    ],
)
def test_non_discrete_spaces_are_rejected(
    observation_space: gym.Space, action_space: gym.Space, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        QLearning(observation_space, action_space)


def test_an_env_of_another_size_is_rejected_before_training() -> None:
    agent = make_agent(QLearning, n_states=3)
    with pytest.raises(ValueError, match="16 states and 4 actions"):
        agent.learn(gym.make("FrozenLake-v1"), total_steps=10)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (lambda: QLearningConfig(alpha=0.0), "alpha"),
        (lambda: SarsaConfig(gamma=1.5), "gamma"),
        (lambda: ExpectedSarsaConfig(epsilon_end=-0.1), "epsilon_end"),
        (lambda: QLearningConfig(epsilon_decay_fraction=2.0), "epsilon_decay_fraction"),
        (lambda: QLearningConfig(epsilon_decay_steps=-1), "epsilon_decay_steps"),
        (lambda: QLearningConfig(alpha_end=2.0), "alpha_end"),
        (lambda: DynaQConfig(planning_steps=-1), "planning_steps"),
    ],
)
def test_bad_config_values_name_the_field(config: Any, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        config()


def test_a_config_of_another_agent_is_rejected() -> None:
    with pytest.raises(TypeError, match="expects a DynaQConfig"):
        DynaQ(gym.spaces.Discrete(2), gym.spaces.Discrete(2), QLearningConfig())


def test_observations_outside_the_table_are_rejected() -> None:
    with pytest.raises(ValueError, match="outside Discrete"):
        make_agent(QLearning).act(3)


# Learners that cannot read a Discrete observation, with a space each takes: the image-only
# ones the smallest frames their encoders take, the model-based ones flat vectors.
FRAMES = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
NON_DISCRETE_AGENTS = {
    "ppo_pretrained_encoder": FRAMES,
    "world_models": FRAMES,
    "dyna_dqn": gym.spaces.Box(-1, 1, (2,)),
    "model_predictive": gym.spaces.Box(-1, 1, (2,)),
}


def test_registry_names_match_the_classes_and_defaults_construct() -> None:
    for name in agent_names():
        cls = agent_class(name)
        assert cls.name == name
        # Multi-agent learners also take the agents' names (their spaces are per agent).
        extra: dict = {}
        if name in MULTIAGENT_AGENTS:
            extra = {"agents": ["a", "b"], "state_space": gym.spaces.Box(-1, 1, (3,))}
        observations = NON_DISCRETE_AGENTS.get(name, gym.spaces.Discrete(4))
        agent = cls(observations, gym.spaces.Discrete(2), **extra)
        assert isinstance(agent.config, cls.config_class)
