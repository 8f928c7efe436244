"""IPPO (parameter sharing + agent id) and MAPPO (centralised critic over env.state()):
coordination to a known optimum, agent ids, the critic's input, done-agent masking,
bootstrapping, determinism and checkpoints. One-step or few-step games keep each test to
seconds."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from pettingzoo import ParallelEnv

from agents.base import Callback, EpisodeStats
from agents.common.rollout import RolloutBuffer
from agents.multiagent.ppo import IPPO, MAPPO, AgentRows, IPPOConfig, MAPPOConfig
from envs.multiagent import parallel_env

LEARNERS: dict[str, tuple[type[IPPO], IPPOConfig]] = {
    "ippo": (IPPO, IPPOConfig(device="cpu")),
    "mappo": (MAPPO, MAPPOConfig(device="cpu")),
}
# Small rollouts for one-step games: an update every 8 x 16 = 128 episodes.
SMALL = {"n_envs": 8, "n_steps": 16, "batch_size": 128}


def make(name: str, env: ParallelEnv, seed: int = 0, **overrides: Any) -> IPPO:
    cls, config = LEARNERS[name]
    return cls.for_env(env, dataclasses.replace(config, **overrides), seed=seed)


def greedy_joint_action(agent: IPPO, env: ParallelEnv) -> tuple[int, ...]:
    observations, _ = env.reset(seed=123)
    actions = agent.act(observations)
    return tuple(actions[a] for a in env.possible_agents)


class TeamGame(ParallelEnv):
    """Two agents, constant observation; every agent gets ``payoff[a0][a1] + coin`` after
    ``length`` steps of the same game (the payoff of each step).

    - ``coin``: with ``hidden_coin``, a fair coin drawn at reset that only ``state()`` shows
      (the agents' observations never do).
    - ``end``: how the episode ends after ``length`` steps, ``"terminated"`` or
      ``"truncated"`` (a time limit the constant observation does not reveal).
    - ``agent_1_steps``: agent_1 terminates after this many steps (its team plays on).
    Actions for agents that are not live, or missing ones, raise.
    """

    metadata = {"name": "team_game_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        payoff: list[list[float]],
        length: int = 1,
        end: str = "terminated",
        hidden_coin: bool = False,
        agent_1_steps: int | None = None,
    ) -> None:
        self.payoff = np.asarray(payoff, dtype=np.float64)
        self.length, self.end, self.hidden_coin = length, end, hidden_coin
        self.agent_1_steps = agent_1_steps if agent_1_steps is not None else length
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self._obs_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self._act_space = gym.spaces.Discrete(self.payoff.shape[0])
        self.state_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.rng = np.random.default_rng()
        self.coin = 0
        self.t = 0

    def observation_space(self, agent: str) -> gym.Space:
        return self._obs_space

    def action_space(self, agent: str) -> gym.Space:
        return self._act_space

    @staticmethod
    def _obs(agents: list[str]) -> dict[str, np.ndarray]:
        return {a: np.full(2, 0.5, np.float32) for a in agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.coin = int(self.rng.integers(2)) if self.hidden_coin else 0
        self.t = 0
        return self._obs(self.agents), {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]):
        if set(actions) != set(self.agents):
            raise ValueError(f"actions for {sorted(actions)}, live agents {self.agents}")
        self.t += 1
        a0 = int(actions.get("agent_0", 0))
        a1 = int(actions.get("agent_1", 0))
        reward = float(self.payoff[a0, a1]) + self.coin
        acting = list(self.agents)
        over = self.t >= self.length
        done = {a: over or (a == "agent_1" and self.t >= self.agent_1_steps) for a in acting}
        terminations = {a: done[a] and (self.end == "terminated" or not over) for a in acting}
        truncations = {a: done[a] and not terminations[a] for a in acting}
        self.agents = [a for a in acting if not done[a]]
        infos = {a: {"is_success": reward >= self.payoff.max()} for a in acting}
        rewards = dict.fromkeys(acting, reward)
        return self._obs(acting), rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.array([self.coin], dtype=np.float32)


class Episodes(Callback):
    def __init__(self) -> None:
        self.episodes: list[EpisodeStats] = []
        self.updates: list[dict[str, float]] = []

    def on_episode_end(self, agent: Any, episode: EpisodeStats) -> None:
        self.episodes.append(episode)

    def on_update(self, agent: Any, metrics: dict[str, float]) -> None:
        self.updates.append(metrics)


# ---------------------------------------------------------------------- learning


@pytest.mark.parametrize("name", list(LEARNERS))
def test_learns_the_optimal_joint_action_of_the_penalty_game_in_most_seeds(name: str) -> None:
    # One-shot penalty game with k = -5: (a, a) and (c, c) pay 10, (a, c) and (c, a) pay -5,
    # b is safe (2 with b, else 0). The agents must pick the SAME optimum; independent
    # uniform play makes each optimum worth 5/3 only, so it takes coordinated learning.
    optima = {(0, 0), (2, 2)}
    hits = 0
    for seed in range(5):
        env = parallel_env("palaestra/PenaltyGame-v0", k=-5.0, max_cycles=1)
        assert set(env.unwrapped.game.optimal_joint_actions) == optima
        agent = make(name, env, seed=seed, **SMALL)
        agent.learn(env, 2_000)
        hits += greedy_joint_action(agent, env) in optima
    assert hits >= 4


@pytest.mark.parametrize("name", list(LEARNERS))
def test_shared_parameters_with_agent_ids_learn_different_actions(name: str) -> None:
    # Both agents see the same observation; only one joint action pays, and in it the two
    # agents act differently: without the id appended, one shared policy could not learn it.
    env = TeamGame([[0.0, 0.0], [0.0, 0.0]])
    agent = make(name, env, **SMALL)
    # The paying action is one of (0, 1) and (1, 0) that the fresh network does not play.
    best = (1, 0) if greedy_joint_action(agent, env) == (0, 1) else (0, 1)
    env.payoff[best] = 1.0
    agent.learn(env, 2_000)
    observations, _ = env.reset()
    assert len({o.tobytes() for o in observations.values()}) == 1
    assert greedy_joint_action(agent, env) == best


def test_mappo_critic_reads_the_global_state_the_agents_cannot_see() -> None:
    # The reward is a hidden coin (0 or 1) that only env.state() shows.
    obs = {a: np.full(2, 0.5, np.float32) for a in ("agent_0", "agent_1")}
    critics = {}
    for name in LEARNERS:
        env = TeamGame([[0.0, 0.0], [0.0, 0.0]], hidden_coin=True)
        agent = make(name, env, **SMALL)
        agent.learn(env, 3_000)
        critics[name] = agent
    mappo, ippo = critics["mappo"], critics["ippo"]
    heads, tails = mappo.values(obs, state=np.ones(1)), mappo.values(obs, state=np.zeros(1))
    for a in obs:
        assert heads[a] == pytest.approx(1.0, abs=0.15)
        assert tails[a] == pytest.approx(0.0, abs=0.15)
    # IPPO's critic sees only the observation: the best it can do is the mean, 1/2.
    for value in ippo.values(obs).values():
        assert value == pytest.approx(0.5, abs=0.15)
    with pytest.raises(ValueError, match="global state"):
        mappo.values(obs)


@pytest.mark.parametrize("name", list(LEARNERS))
@pytest.mark.parametrize(("end", "target"), [("truncated", 2.0), ("terminated", 1.25)])
def test_truncation_bootstraps_from_the_final_value_and_termination_does_not(
    name: str, end: str, target: float
) -> None:
    # Reward 1 per step for 2 steps, a constant observation and gamma 1/2. Monte-Carlo
    # targets (lambda = 1): cut by termination, the steps are worth 1.5 and 1 (mean 1.25);
    # cut by a time limit, both bootstrap from V itself: V = 1.25 + 0.375 V, V = 2.
    env = TeamGame([[1.0, 1.0], [1.0, 1.0]], length=2, end=end)
    agent = make(name, env, gamma=0.5, gae_lambda=1.0, **SMALL)
    agent.learn(env, 3_000)
    observations, _ = env.reset()
    for value in agent.values(observations, state=env.state()).values():
        assert value == pytest.approx(target, abs=0.1)


# ---------------------------------------------------------------------- masking


class RowCounter:
    """Wraps a learner's update to count the rows each update learns from."""

    def __init__(self, agent: IPPO) -> None:
        self.rows: list[int] = []
        self.live: list[torch.Tensor] = []
        update = agent.update

        def counted(buffer: RolloutBuffer) -> dict[str, torch.Tensor]:
            assert buffer.live is not None
            self.rows.append(len(buffer.flat()))
            self.live.append(buffer.live.clone())
            return update(buffer)

        agent.update = counted  # type: ignore[method-assign]


@pytest.mark.parametrize("name", list(LEARNERS))
def test_agents_that_finished_early_are_masked_out_of_the_loss(name: str) -> None:
    # agent_1 terminates after its first step, agent_0 plays 5 steps: 6 real transitions
    # per episode out of 10 agent rows. TeamGame raises on an action for a finished agent.
    envs = [TeamGame([[1.0, 1.0], [1.0, 1.0]], length=5, agent_1_steps=1) for _ in range(2)]
    agent = make(name, envs[0], n_envs=2, n_steps=10)
    counter = RowCounter(agent)
    callback = Episodes()
    agent.learn(envs, 20, callback)  # one rollout: 2 envs x 10 steps = 2 episodes each
    assert counter.rows == [2 * 2 * 6]
    live = counter.live[0]  # (n_steps, rows): row 2e is agent_0, 2e + 1 agent_1 of env e
    assert live[:, 0::2].all()
    expected_agent_1 = torch.tensor([t % 5 == 0 for t in range(10)])
    for e in range(2):
        assert torch.equal(live[:, 2 * e + 1], expected_agent_1)
    # Team return: the mean of agent_0's 5 and agent_1's 1; the length counts team steps.
    assert len(callback.episodes) == 4
    for episode in callback.episodes:
        assert episode.episode_return == pytest.approx(3.0)
        assert episode.length == 5 and episode.success


# ---------------------------------------------------------------------- rows


def test_rows_append_the_one_hot_agent_id_and_zero_dead_agents() -> None:
    obs_space = gym.spaces.Discrete(3)
    rows = AgentRows(["a", "b"], obs_space, gym.spaces.Box(0, 1, (2,), np.float32), n_envs=2)
    rows.write(0, {"a": 2, "b": 0}, ["a", "b"], np.array([0.25, 0.5], np.float32))
    rows.write(1, {"a": 1}, ["a"], np.array([1.0, 0.0], np.float32))
    batch = rows.batch()
    np.testing.assert_array_equal(
        batch["obs"],
        [[0, 0, 1, 1, 0], [1, 0, 0, 0, 1], [0, 1, 0, 1, 0], [0, 0, 0, 0, 1]],
    )
    np.testing.assert_array_equal(
        batch["state"],
        [[0.25, 0.5, 1, 0], [0.25, 0.5, 0, 1], [1, 0, 1, 0], [1, 0, 0, 1]],
    )
    np.testing.assert_array_equal(rows.live, [True, True, True, False])


class MaskedTeamGame(TeamGame):
    """TeamGame with Dict observations carrying an ``action_mask``: agent_0 may never take
    action 2 (the best payoff), agent_1 may take anything; a masked action raises."""

    def __init__(self, payoff: list[list[float]]) -> None:
        super().__init__(payoff)
        n = self.payoff.shape[0]
        self._obs_space = gym.spaces.Dict(
            {
                "x": gym.spaces.Box(0.0, 1.0, (2,), np.float32),
                "action_mask": gym.spaces.MultiBinary(n),
            }
        )

    def _obs(self, agents: list[str]) -> dict[str, Any]:  # type: ignore[override]
        n = self.payoff.shape[0]
        masks = {"agent_0": np.array([1] * (n - 1) + [0], np.int8), "agent_1": np.ones(n, np.int8)}
        return {a: {"x": np.full(2, 0.5, np.float32), "action_mask": masks[a]} for a in agents}

    def step(self, actions: Mapping[str, Any]):
        if int(actions.get("agent_0", 0)) == self.payoff.shape[0] - 1:
            raise ValueError("agent_0 took its masked action")
        return super().step(actions)


@pytest.mark.parametrize("name", list(LEARNERS))
def test_action_masks_are_obeyed_in_training_and_acting(name: str) -> None:
    # Unmasked, (2, 2) pays 10; with agent_0's action 2 masked the best allowed joint action
    # is (1, 0). Sampling a masked action would raise in the env.
    payoff = [[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 10.0]]
    envs = [MaskedTeamGame(payoff) for _ in range(SMALL["n_envs"])]
    agent = make(name, envs[0], **SMALL)
    agent.learn(envs, 6_000)
    observations, _ = envs[0].reset(seed=0)
    for _ in range(200):
        assert agent.act(observations, deterministic=False)["agent_0"] != 2
    assert greedy_joint_action(agent, envs[0]) == (1, 0)


def test_rows_carry_action_masks_and_dead_rows_allow_everything() -> None:
    space = MaskedTeamGame([[0.0] * 3] * 3).observation_space("agent_0")
    rows = AgentRows(["a", "b"], space, None, n_envs=1)
    x = np.zeros(2, np.float32)
    rows.write(0, {"a": {"x": x, "action_mask": np.array([0, 1, 0], np.int8)}}, ["a"])
    assert rows.masks is not None
    np.testing.assert_array_equal(rows.masks, [[False, True, False], [True, True, True]])
    assert AgentRows(["a"], gym.spaces.Discrete(3), None, 1).masks is None


# ---------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("name", list(LEARNERS))
def test_same_seed_gives_identical_first_updates_on_cpu(name: str) -> None:
    def trained() -> tuple[IPPO, Episodes]:
        env = parallel_env("palaestra/ClimbingGame-v0", max_cycles=5)
        agent = make(name, env, seed=7, n_envs=4, n_steps=16)
        callback = Episodes()
        agent.learn(env, 3 * 4 * 16, callback)  # three updates
        return agent, callback

    (a, ca), (b, cb) = trained(), trained()
    assert a.num_updates == b.num_updates == 3
    assert ca.updates == cb.updates and ca.episodes == cb.episodes
    for (key, pa), pb in zip(
        a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), key
    fresh = make(name, parallel_env("palaestra/ClimbingGame-v0"), seed=7).policy.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in a.policy.state_dict().items())


@pytest.mark.parametrize("name", list(LEARNERS))
def test_save_load_acts_identically(name: str, tmp_path) -> None:
    env = parallel_env("palaestra/ClimbingGame-v0", max_cycles=5)
    agent = make(name, env, seed=1, n_envs=4, n_steps=16)
    agent.learn(env, 500)
    path = agent.save(tmp_path / f"{name}.pt")
    loaded = type(agent).load(path)
    assert loaded.num_steps == agent.num_steps and loaded.config == agent.config
    assert loaded.agents == agent.agents and loaded.state_space == agent.state_space
    observations = [{a: np.int64(s) for a in env.possible_agents} for s in range(10)]
    for obs in observations:
        assert loaded.act(obs) == agent.act(obs)
        state = np.eye(10, dtype=np.float32)[int(obs["agent_0"])]
        assert loaded.values(obs, state) == agent.values(obs, state)
    # The sampling stream is saved too: the loaded agent explores the same way.
    sampled = [agent.act(obs, deterministic=False) for obs in observations * 5]
    assert [loaded.act(obs, deterministic=False) for obs in observations * 5] == sampled
    # Optimizer state and generators are restored: training on continues identically.
    for learner in (agent, loaded):
        env = parallel_env("palaestra/ClimbingGame-v0", max_cycles=5)
        env.reset(seed=9)  # learn() resumes without re-seeding; seed the env here instead
        learner.learn(env, 1_000)
    for key, value in agent.policy.state_dict().items():
        assert torch.equal(value, loaded.policy.state_dict()[key]), key


# ---------------------------------------------------------------------- interface


def test_act_answers_only_the_live_agents_and_rejects_unknown_ones() -> None:
    env = TeamGame([[0.0, 1.0], [0.0, 0.0]])
    agent = make("mappo", env)
    assert set(agent.act({"agent_1": np.zeros(2, np.float32)})) == {"agent_1"}
    with pytest.raises(ValueError, match="unknown agent"):
        agent.act({"agent_7": np.zeros(2, np.float32)})


def test_mappo_needs_a_state_space_and_a_matching_env() -> None:
    env = TeamGame([[0.0, 1.0], [0.0, 0.0]])
    space = env.observation_space("agent_0")
    with pytest.raises(ValueError, match="state_space"):
        MAPPO(space, env.action_space("agent_0"), agents=env.possible_agents)
    agent = make("mappo", env)
    other = parallel_env("palaestra/StagHunt-v0")
    with pytest.raises(ValueError, match="space"):
        agent.learn(other, 100)


def test_a_callback_can_stop_training() -> None:
    class StopAt(Callback):
        def on_step(self, agent: Any, num_steps: int) -> bool:
            return num_steps < 40

    env = TeamGame([[0.0, 1.0], [0.0, 0.0]])
    agent = make("ippo", env, n_envs=4)
    agent.learn(env, 10_000, StopAt())
    assert agent.num_steps == 40 and agent.num_updates == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(LEARNERS))
def test_trains_and_acts_on_cuda(name: str) -> None:
    env = parallel_env("palaestra/PenaltyGame-v0", k=-5.0, max_cycles=1)
    agent = make(name, env, device="cuda", **SMALL)
    agent.learn(env, 2_000)
    assert next(agent.policy.parameters()).is_cuda
    assert greedy_joint_action(agent, env) in {(0, 0), (2, 2)}
