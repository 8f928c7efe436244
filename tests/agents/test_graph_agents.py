"""Agents on GraphNav: tabular Q-learning walks the Dijkstra optimum, Stable-Baselines3's PPO
learns from the Dict observation, and the training API runs ppo, dqn and q_learning on the
graph ids.

Exact answers come from Dijkstra: the env's ``info["optimal_cost"]``, cross-checked with
networkx. Value iteration is not compared: GraphNavEnv exposes no transition model (neither
``P`` nor ``transition_arrays()``), so ``TabularModel.from_env`` cannot plan on it.

Q-learning runs with ``gamma = 1``: with discounting, a path of more (cheap) edges loses
some of the discounted goal reward, so the greedy policy of Q* would not be the cheapest
path. GraphNav is deterministic, so ``alpha = 1`` makes each update the exact Bellman
backup (asynchronous value iteration on the visited pairs). Tabular agents and DQN on an
``index`` observation see no action mask, so they train with ``invalid_action="penalty"``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest

import envs  # noqa: F401  (registers the palaestra ids)
from agents.common.torch_utils import torch_threads
from agents.evaluation import run_episode
from agents.tabular import QLearning, QLearningConfig
from training.config import TrainConfig
from training.run import train

GRAPH_NAV = "palaestra/GraphNav-v0"
GRAPH_NAV_FIXED = "palaestra/GraphNavFixed-v0"
# The env's cost and its Dijkstra optimum add the same weights in different orders, so an
# optimal path's ratio can be 1 +- a few ulps.
RATIO_TOLERANCE = 1e-12
EXACT = {"alpha": 1.0, "gamma": 1.0}


def trap_graph() -> nx.Graph:
    """Start 0, goal 4. The cheapest path 0-1-2-3-4 (cost 4) has the most edges; the direct
    edge (5), the fewest-hop paths (5 and 4.5) and the lightest first edge (to 5, then 4.5)
    all lose, and node 6 is a cheap dead end."""
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        [
            (0, 4, 5.0),
            (0, 1, 1.0),
            (1, 2, 1.0),
            (2, 3, 1.0),
            (3, 4, 1.0),
            (1, 4, 3.5),
            (0, 5, 0.5),
            (5, 4, 4.0),
            (2, 6, 0.2),
        ]
    )
    return graph


TRAP_START, TRAP_GOAL, TRAP_PATH = 0, 4, [0, 1, 2, 3, 4]


def networkx_graph(env: gym.Env) -> nx.Graph:
    """The env's graph as networkx sees it, for an independent Dijkstra."""
    graph = env.unwrapped.graph
    nx_graph = nx.Graph()
    nx_graph.add_nodes_from(range(graph.num_nodes))
    nx_graph.add_weighted_edges_from(
        (int(u), int(v), float(w)) for (u, v), w in zip(graph.edges, graph.weights, strict=True)
    )
    return nx_graph


def learn_q_learning(env: gym.Env, steps: int, seed: int = 0) -> QLearning:
    agent = QLearning(env.observation_space, env.action_space, QLearningConfig(**EXACT), seed=seed)
    agent.learn(env, total_steps=steps)
    return agent


def greedy_episode(agent: Any, env: gym.Env, start: int, goal: int) -> tuple[bool, dict]:
    """(terminated at the goal, last info) of a greedy episode from ``start`` to ``goal``."""
    obs, info = env.reset(options={"start": start, "goal": goal})
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(agent.act(obs, deterministic=True))
    return terminated, info


# ------------------------------------------------------------------ tabular Q-learning
def test_the_trap_graph_punishes_every_naive_path() -> None:
    graph = trap_graph()
    cost = nx.dijkstra_path_length(graph, TRAP_START, TRAP_GOAL)
    assert nx.dijkstra_path(graph, TRAP_START, TRAP_GOAL) == TRAP_PATH and cost == 4.0
    # Every path of fewer edges (the direct edge included) costs more.
    shorter = list(nx.all_simple_paths(graph, TRAP_START, TRAP_GOAL, cutoff=len(TRAP_PATH) - 2))
    assert [TRAP_START, TRAP_GOAL] in shorter
    assert min(nx.path_weight(graph, path, "weight") for path in shorter) > cost
    lightest = min(graph[TRAP_START], key=lambda v: graph[TRAP_START][v]["weight"])
    assert lightest not in TRAP_PATH


def test_q_learning_walks_the_cheapest_path_on_a_trap_graph() -> None:
    env = gym.make(
        GRAPH_NAV,
        graph=trap_graph(),
        start=TRAP_START,
        goal=TRAP_GOAL,
        obs_mode="index",
        max_degree=None,
        invalid_action="penalty",
    )
    agent = learn_q_learning(env, steps=5_000)
    result = run_episode(agent, env)
    inner = env.unwrapped
    assert inner.walked == TRAP_PATH
    assert result.info["optimal_cost"] == nx.dijkstra_path_length(trap_graph(), 0, 4) == 4.0
    assert result.info["cost_ratio"] == 1.0
    # Q* = goal_reward - (cost to go): the learned values are the Dijkstra distances.
    assert agent.q[TRAP_START].max() == pytest.approx(inner.goal_reward - 4.0)


def test_q_learning_reaches_the_optimum_for_every_pair_of_graphnav_fixed() -> None:
    env = gym.make(GRAPH_NAV_FIXED, invalid_action="penalty")
    graph = networkx_graph(env)
    pairs = list(itertools.permutations(range(env.unwrapped.num_nodes), 2))
    # Fewest hops is not enough: in many pairs some fewest-hop path costs more than optimal.
    ambiguous = sum(
        len({nx.path_weight(graph, p, "weight") for p in nx.all_shortest_paths(graph, s, g)}) > 1
        for s, g in pairs
    )
    assert ambiguous >= len(pairs) // 4

    agent = learn_q_learning(env, steps=100_000)
    failures = []
    for start, goal in pairs:
        reached, info = greedy_episode(agent, env, start, goal)
        assert info["optimal_cost"] == pytest.approx(nx.dijkstra_path_length(graph, start, goal))
        if not (reached and math.isclose(info["cost_ratio"], 1.0, rel_tol=RATIO_TOLERANCE)):
            failures.append((start, goal, info["cost_ratio"]))
    assert failures == []


# ------------------------------------------------------------------ Stable-Baselines3
def sb3_ppo(env: gym.Env, seed: int, **kwargs: Any) -> Any:
    from stable_baselines3 import PPO

    return PPO(
        "MultiInputPolicy", env, n_steps=256, batch_size=64, seed=seed, device="cpu", **kwargs
    )


def test_sb3_ppo_trains_on_graphnav_with_the_dict_observation() -> None:
    """SB3 takes the Dict as it is (no flattening wrapper): one extractor per key."""
    env = gym.make(GRAPH_NAV, invalid_action="penalty")  # SB3 samples masked actions
    with torch_threads(1):
        model = sb3_ppo(env, seed=0)
        model.learn(1_024)
    assert set(model.policy.features_extractor.extractors) == set(env.observation_space.spaces)
    assert model.num_timesteps >= 1_024
    assert len(model.ep_info_buffer) > 0
    obs, _ = env.reset(seed=5)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))


def star_env() -> gym.Env:
    """Start at the hub of a 6-leaf star; the goal is a random leaf, i.e. one neighbour."""
    return gym.make(
        GRAPH_NAV,
        graph=nx.star_graph(6),
        start=0,
        max_degree=None,
        weights="unit",
        max_view_nodes=8,
        invalid_action="penalty",  # leaves have 1 allowed action of 6
    )


def test_sb3_ppo_learns_to_step_onto_the_goal_neighbour() -> None:
    """Where the goal is among the start's 6 neighbours, the first move is right 1/6 of the
    time by chance; the policy has to read the goal from the observation to do better."""
    env = star_env()
    # Advantage normalisation off: once the policy is right, every episode returns the same
    # (0: +1 at the goal, -1 for the edge), and normalising those ~0 advantages to unit
    # scale turns noise into large updates that knock the solved policy over.
    with torch_threads(1):
        model = sb3_ppo(env, seed=0, learning_rate=1e-3, normalize_advantage=False)
        model.learn(3_072)
    eval_env = star_env()
    first_move_hits = []
    for i in range(100):
        obs, _ = eval_env.reset(seed=10_000 + i)
        action, _ = model.predict(obs, deterministic=True)
        _, _, terminated, _, info = eval_env.step(int(action))
        first_move_hits.append(terminated and info["cost_ratio"] == 1.0)
    assert np.mean(first_move_hits) >= 0.9


# ------------------------------------------------------------------ the training API
def train_and_read_eval(tmp_path: Path, **fields: Any) -> dict[str, Any]:
    config = TrainConfig(
        out=str(tmp_path / "run"), checkpoint_every=0, device="cpu", seed=0, **fields
    )
    result = train(config, verbose=False)
    evaluation = json.loads((result.run_dir / "eval.json").read_text())
    assert evaluation["num_steps"] >= config.steps
    return evaluation


def test_train_ppo_on_graphnav_reports_the_cost_ratio(tmp_path: Path) -> None:
    evaluation = train_and_read_eval(
        tmp_path, env=GRAPH_NAV, agent="ppo", steps=512, eval_episodes=20
    )
    assert 0.0 < evaluation["success_rate"] <= 1.0
    # Only successful episodes count, and none can beat Dijkstra.
    assert 1.0 <= evaluation["mean_cost_ratio"] < math.inf


def test_train_q_learning_on_graphnav_fixed_reaches_the_optimum(tmp_path: Path) -> None:
    evaluation = train_and_read_eval(
        tmp_path,
        env=GRAPH_NAV_FIXED,
        agent="q_learning",
        steps=100_000,
        env_kwargs={"invalid_action": "penalty"},
        agent_config=EXACT,
        eval_episodes=50,
    )
    assert evaluation["success_rate"] == 1.0
    assert evaluation["mean_cost_ratio"] == pytest.approx(1.0, rel=RATIO_TOLERANCE)


def test_train_dqn_on_graphnav_fixed_reaches_the_goal(tmp_path: Path) -> None:
    """A fixed pair 5 edges apart; DQN (gamma 0.99, few updates) need not find the cheapest
    path, so the ratio is only bounded below."""
    evaluation = train_and_read_eval(
        tmp_path,
        env=GRAPH_NAV_FIXED,
        agent="dqn",
        steps=2_000,
        env_kwargs={"invalid_action": "penalty", "start": 10, "goal": 3},
        eval_episodes=5,
    )
    assert evaluation["success_rate"] == 1.0
    assert 1.0 <= evaluation["mean_cost_ratio"] < math.inf


@pytest.mark.parametrize("agent", ["q_learning", "dqn"])
def test_train_on_graphnav_fixed_with_its_registered_settings(tmp_path: Path, agent: str) -> None:
    """Agents that see no action mask explore masked moves; the registered env turns them
    into a penalty instead of stopping the run."""
    evaluation = train_and_read_eval(
        tmp_path, env=GRAPH_NAV_FIXED, agent=agent, steps=1_500, eval_episodes=5
    )
    assert evaluation["episodes"] == 5
    assert 0.0 <= evaluation["success_rate"] <= 1.0
