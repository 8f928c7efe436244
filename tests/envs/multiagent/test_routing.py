"""Graph routing: congestion costs, arrivals, success, masked actions, observations, frames."""

from __future__ import annotations

import functools
import math

import networkx as nx
import numpy as np
import pytest
from ma_checks import check_determinism, check_pettingzoo_api, check_rejects_bad_actions

from envs.multiagent import parallel_env
from envs.multiagent.base import agent_color
from envs.multiagent.routing import OBS_KEYS, GraphRoutingEnv
from renders import graph as graph_render

# A square 0-1-2-3-0 (counter-clockwise from the origin) with distinct weights: the
# cheapest way 0 -> 2 is 0-1-2 (cost 3) and 3 -> 1 is 3-0-1 (cost 3).
SQUARE_POS = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (1.0, 1.0), 3: (0.0, 1.0)}
SQUARE_WEIGHTS = {(0, 1): 2.0, (1, 2): 1.0, (2, 3): 3.0, (3, 0): 1.0}


def square() -> nx.Graph:
    g = nx.Graph()
    for node, pos in SQUARE_POS.items():
        g.add_node(node, pos=pos)
    for (a, b), w in SQUARE_WEIGHTS.items():
        g.add_edge(a, b, weight=w)
    return g


def make(starts, goals, **kwargs) -> GraphRoutingEnv:
    kwargs.setdefault("max_degree", 3)  # one masked action at every node of the square
    env = GraphRoutingEnv(square(), n_agents=len(starts), starts=starts, goals=goals, **kwargs)
    env.reset(seed=0)
    return env


def move(env: GraphRoutingEnv, **targets: int):
    """Step with each named agent walking to the given neighbouring node."""
    actions = {
        agent: env.neighbors(env.agent_nodes[agent]).index(node) for agent, node in targets.items()
    }
    return env.step(actions)


# ---------------------------------------------------------------- API
@pytest.mark.parametrize(
    "make_env",
    [
        functools.partial(parallel_env, "palaestra/GraphRouting-v0"),
        functools.partial(GraphRoutingEnv, graph_seed=None, n_agents=4, num_nodes=12),
        functools.partial(GraphRoutingEnv, "grid", n_agents=2, invalid_action="penalty"),
        functools.partial(GraphRoutingEnv, square(), max_degree=None, max_cycles=20),
    ],
    ids=["default", "new-graph-per-episode", "grid-penalty", "user-graph"],
)
def test_pettingzoo_api_and_determinism(make_env) -> None:
    check_pettingzoo_api(make_env)
    check_rejects_bad_actions(make_env)
    check_determinism(make_env, steps=500, min_episodes=4)


def test_defaults() -> None:
    env = GraphRoutingEnv()
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"]
    assert env.num_nodes == 16 and env.max_degree == 10 and env.max_cycles == 50
    assert (env.congestion, env.arrival_reward, env.invalid_action) == (1.0, 1.0, "raise")
    space = env.observation_space("agent_0")
    assert set(space.spaces) == set(OBS_KEYS)
    assert space["others"].shape == (2, 5) and space["neighbors"].shape == (10, 7)
    assert env.state_space.shape == (16,)
    assert env.action_space("agent_2").n == 10


def test_fixed_graph_random_routes_follow_the_seed() -> None:
    env = GraphRoutingEnv()
    routes = set()
    for seed in range(20):
        _, infos = env.reset(seed=seed)
        starts, goals = list(env.agent_nodes.values()), list(env.goal_nodes.values())
        assert len(set(starts)) == 3 and all(s != g for s, g in zip(starts, goals, strict=True))
        assert all(info["optimal_cost"] > 0 and info["cost"] == 0 for info in infos.values())
        routes.add((*starts, *goals))
        again = GraphRoutingEnv()
        again.reset(seed=seed)
        assert again.agent_nodes == env.agent_nodes and again.goal_nodes == env.goal_nodes
    assert len(routes) == 20
    first = env.graph
    env.reset(seed=99)
    assert env.graph is first  # graph_seed fixes the graph


def test_graph_seed_none_draws_a_new_graph_every_episode() -> None:
    env = GraphRoutingEnv(graph_seed=None)
    env.reset(seed=0)
    first = env.graph.positions.copy()
    env.reset()
    assert not np.array_equal(first, env.graph.positions)
    env.reset(seed=0)
    np.testing.assert_array_equal(first, env.graph.positions)


# ---------------------------------------------------------------- congestion and rewards
def test_two_agents_on_one_edge_each_pay_more_than_one_alone() -> None:
    env = make([0, 0, 2], [1, 1, 3], congestion=0.5)
    _, rewards, terms, _, infos = move(env, agent_0=1, agent_1=1, agent_2=3)
    # agent_0 and agent_1 share edge 0-1 (weight 2): 2 * (1 + 0.5) each; agent_2 pays 3
    assert [infos[a]["cost"] for a in env.possible_agents] == [3.0, 3.0, 3.0]
    assert rewards == dict.fromkeys(env.possible_agents, -9.0 + 3 * 1.0)
    assert [infos[a]["cost_ratio"] for a in env.possible_agents] == [1.5, 1.5, 1.0]
    assert all(terms.values())

    alone = make([0], [1], congestion=0.5)
    _, rewards, *_ = move(alone, agent_0=1)
    assert rewards == {"agent_0": -2.0 + 1.0}


def test_opposite_directions_on_one_edge_congest_too() -> None:
    env = make([0, 1], [1, 0], congestion=1.0)
    *_, infos = move(env, agent_0=1, agent_1=0)
    assert infos["agent_0"]["cost"] == infos["agent_1"]["cost"] == 4.0


def test_three_agents_on_one_edge_pay_the_weight_times_one_plus_twice_the_congestion() -> None:
    env = make([0, 0, 0], [1, 1, 1], congestion=0.25)
    _, rewards, *_ = move(env, agent_0=1, agent_1=1, agent_2=1)
    assert rewards["agent_0"] == pytest.approx(-3 * 2.0 * 1.5 + 3.0)


def test_no_congestion_when_agents_only_share_a_node() -> None:
    env = make([1, 3], [2, 2], congestion=1.0)
    *_, infos = move(env, agent_0=2, agent_1=2)
    assert infos["agent_0"]["cost"] == 1.0 and infos["agent_1"]["cost"] == 3.0


# ---------------------------------------------------------------- arrivals and episode end
def test_arrived_agents_leave_and_the_rest_finish_with_success() -> None:
    env = make([0, 3, 2], [1, 1, 0], congestion=0.5)
    _, rewards, terms, truncs, infos = move(env, agent_0=1, agent_1=0, agent_2=1)
    assert rewards == dict.fromkeys(env.possible_agents, -(2.0 + 1.0 + 1.0) + 1.0)
    assert terms == {"agent_0": True, "agent_1": False, "agent_2": False}
    assert not any(truncs.values())
    assert [infos[a]["is_success"] for a in env.possible_agents] == [True, False, False]
    assert env.agents == ["agent_1", "agent_2"]

    with pytest.raises(ValueError, match="agent_0"):  # an arrived agent cannot act
        move(env, agent_0=0, agent_1=1, agent_2=0)
    # agent_1 walks 0 -> 1 while agent_2 walks 1 -> 0: one edge, 2 * 1.5 each
    obs, rewards, terms, truncs, infos = move(env, agent_1=1, agent_2=0)
    assert set(obs) == set(rewards) == set(infos) == {"agent_1", "agent_2"}
    assert rewards == {"agent_1": -6.0 + 2.0, "agent_2": -6.0 + 2.0}
    assert terms == {"agent_1": True, "agent_2": True}
    assert all(info["is_success"] for info in infos.values())
    assert infos["agent_1"]["cost"] == 4.0 and infos["agent_1"]["optimal_cost"] == 3.0
    assert env.agents == []


def test_others_see_an_arrived_agent_as_gone() -> None:
    env = make([0, 3], [1, 1])
    obs, *_ = move(env, agent_0=1, agent_1=0)
    assert obs["agent_1"]["others"].tolist() == [[0, 0, 0, 0, 0]]


def test_shortest_path_actions_reach_every_goal_at_the_optimal_cost() -> None:
    env = GraphRoutingEnv(congestion=0.0)
    for seed in range(10):
        _, first = env.reset(seed=seed)
        done: dict = {}
        while env.agents:
            *_, infos = env.step(env.shortest_path_actions())
            done.update(infos)
        for agent, info in done.items():
            assert info["is_success"]
            assert info["cost"] == pytest.approx(first[agent]["optimal_cost"])
            assert info["cost_ratio"] == pytest.approx(1.0)


def test_truncation_at_max_cycles_is_not_success() -> None:
    env = make([0], [2], max_cycles=3)
    for cycle, node in enumerate((3, 0, 3), start=1):
        _, _, terms, truncs, infos = move(env, agent_0=node)
        assert terms == {"agent_0": False}
        assert truncs == {"agent_0": cycle == 3}
    assert not infos["agent_0"]["is_success"] and infos["agent_0"]["cost_ratio"] == math.inf
    assert env.agents == []


# ---------------------------------------------------------------- masked actions
def test_a_masked_action_raises_naming_the_agent_node_and_degree() -> None:
    env = make([0, 2], [1, 3])
    with pytest.raises(ValueError, match=r"action 2 is masked for agent 'agent_1' at node 2.*2"):
        env.step({"agent_0": 0, "agent_1": 2})
    assert env.agent_nodes == {"agent_0": 0, "agent_1": 2}  # nothing moved


def test_a_masked_action_under_penalty_stays_put_and_costs_the_team() -> None:
    env = make([0, 2], [1, 3], invalid_action="penalty", invalid_action_penalty=-0.5)
    _, rewards, terms, *_ = env.step({"agent_0": 2, "agent_1": env.neighbors(2).index(3)})
    assert env.agent_nodes["agent_0"] == 0
    assert rewards["agent_0"] == -0.5 - 3.0 + 1.0
    assert terms == {"agent_0": False, "agent_1": True}


# ---------------------------------------------------------------- observations and state
def test_observation_and_state_of_a_hand_made_situation() -> None:
    env = make([0, 2], [2, 3])
    obs, _ = env.reset(seed=0)
    o = obs["agent_0"]
    # node 0's neighbours in action order: 1 (angle 0), then 3 (90 degrees); goal is 2
    assert env.neighbors(0) == [1, 3]
    np.testing.assert_allclose(o["node"], [0, 0, 1, 1, math.sqrt(2), 0, 1], rtol=1e-6)
    np.testing.assert_allclose(o["goal"], [1, 1, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(o["neighbors"][0], [1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_allclose(o["neighbors"][1], [0, 1, 1, 0, 1, 0, 0])
    np.testing.assert_allclose(o["neighbors"][2], 0)
    assert o["edge_weights"].tolist() == [2.0, 1.0, 0.0]
    assert o["action_mask"].tolist() == [1, 1, 0]
    # agent_1 stands on (1, 1) and heads for (0, 1): offsets from agent_0's node (0, 0)
    assert o["others"].tolist() == [[1, 1, 0, 1, 1]]
    assert obs["agent_1"]["others"].tolist() == [[-1, -1, 0, 0, 1]]
    assert all(env.observation_space(a).contains(obs[a]) for a in obs)
    np.testing.assert_allclose(env.state(), [0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0])

    obs, *_ = move(env, agent_0=1, agent_1=1)
    assert obs["agent_0"]["node"][-1] == 1.0  # visited
    assert obs["agent_0"]["neighbors"][1].tolist()[-1] == 1.0  # node 0, row of action 1
    assert env.state()[-1] == pytest.approx(1 / 50)


# ---------------------------------------------------------------- arguments and frames
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agents": 0}, "n_agents must be >= 1"),
        ({"invalid_action": "ignore"}, "unknown invalid_action 'ignore'; valid: raise, penalty"),
        ({"congestion": -1.0}, "congestion must be a number >= 0"),
        ({"graph": "lattice"}, "unknown graph family 'lattice'"),
        ({"num_nodes": 2}, "the graph has 2 nodes, fewer than the 3 agents"),
        ({"graph_seed": None, "max_degree": None}, "max_degree=None"),
        ({"starts": [0, 1]}, "starts must be 3 node ids"),
        ({"goals": [0, 1, 16]}, r"goals\[2\] = 16 is not a node"),
        ({"starts": [0, 1, 2], "goals": [0, 2, 1]}, "agent_0: start and goal are the same node"),
        ({"max_cycles": 0}, "max_cycles must be >= 1"),
        ({"render_size": 10}, "render_size must be >= 64"),
        ({"render_mode": "ansi"}, "unknown render_mode 'ansi'"),
    ],
)
def test_bad_arguments_fail_loudly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphRoutingEnv(**kwargs)


def test_goal_in_another_component_fails_loudly() -> None:
    g = square()
    g.add_edge(4, 5, weight=1.0)
    nx.set_node_attributes(g, {4: (0.5, 0.2), 5: (0.5, 0.8)}, "pos")
    with pytest.raises(ValueError, match="agent_0: goal 4 cannot be reached from start 0"):
        GraphRoutingEnv(g, n_agents=1, starts=[0], goals=[4])


def test_a_typo_in_a_keyword_fails_loudly() -> None:
    with pytest.raises(TypeError, match="n_agent"):
        GraphRoutingEnv(n_agent=2)


def test_frame_shows_each_agent_and_goal_in_its_colour() -> None:
    env = make([0, 2], [3, 1], render_mode="rgb_array", render_size=256)
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    centres = graph_render.node_pixels(env.graph.positions, 256)
    assert tuple(frame[tuple(centres[0])]) == agent_color(0)
    assert tuple(frame[tuple(centres[2])]) == agent_color(1)
    tint = [tuple(frame[tuple(centres[node])]) for node in (3, 1)]
    assert tint[0] != tint[1] and all(t != tuple(graph_render.BACKGROUND_COLOR) for t in tint)
    pixels = frame.reshape(-1, 3)
    for color in (graph_render.AGENT_COLOR, graph_render.GOAL_COLOR):  # all covered
        assert not (pixels == color).all(axis=1).any()

    move(env, agent_0=1, agent_1=1)  # both on node 1: nested discs, both colours show
    frame = env.render()
    r, c = centres[1]
    ring = {tuple(frame[r, c - dc]) for dc in range(12)}
    assert {agent_color(0), agent_color(1)} <= ring
