"""Multi-agent routing: agents cross a weighted graph to their own goals; shared edges congest."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from envs.graph.graphs import (
    Graph,
    generate_graph,
    max_edge_weight,
)
from envs.graph.loading import resolve_graph
from envs.graph.neighbors import NeighborTable, build_neighbor_table
from envs.graph.observation import (
    ACTION_MASK_KEY,
    EDGE_WEIGHTS_KEY,
    GOAL_KEY,
    NEIGHBORS_KEY,
    NODE_KEY,
    VISITED,
    DictObserver,
    dict_observation_space,
    feature_table,
)
from envs.graph.oracle import best_action, bidirectional_dijkstra, distances_to
from envs.multiagent.base import MultiAgentEnv, agent_color, agent_names, check_int, float_box

if TYPE_CHECKING:
    import networkx as nx

OTHERS_KEY = "others"
OTHER_FEATURES = 5  # dx, dy of the other agent's node, dx, dy of its goal, still travelling
OBS_KEYS = (NODE_KEY, GOAL_KEY, NEIGHBORS_KEY, EDGE_WEIGHTS_KEY, OTHERS_KEY, ACTION_MASK_KEY)
INVALID_ACTION_MODES = ("raise", "penalty")
DEFAULT_NUM_NODES = 16

# Marker sizes as fractions of the frame: larger than renders.graph's own agent and goal
# discs (at most size/35.5 and size/45.7), so the agent-0 markers draw_graph paints are
# always covered by the agent-coloured ones.
_AGENT_RADIUS = 1 / 32
_GOAL_HALF_SIDE = 1 / 40
_GOAL_TINT = 0.45  # goal squares: the agent colour mixed this much with white


class GraphRoutingEnv(MultiAgentEnv):
    """Several agents route to their own goals on one weighted graph; shared edges congest.

    ## Description
    ``n_agents`` agents (``agent_0``...) each start on a node and must reach their own goal
    node, walking one edge per step, all at the same time. Graphs are GraphNav's
    (:mod:`envs.graph`): a generated family (``"geometric"`` default, ``"grid"``,
    ``"watts_strogatz"``, ``"barabasi_albert"``, ``"tree"``) or the user's own networkx
    graph or GraphML / edge-list file. A generated graph is drawn once from ``graph_seed``
    (default 0, the same graph every episode) or, with ``graph_seed=None``, anew every
    episode from the env's ``np_random``. Congestion: when ``m`` agents traverse the same
    edge in the same step (either direction), each of them pays
    ``weight * (1 + congestion * (m - 1))``, so agents that spread over different routes
    pay less than agents that all take their own shortest path. An agent that reaches its
    goal terminates and leaves ``agents``. :meth:`shortest_path_actions` gives every agent's
    uncongested shortest-path move (a baseline that ignores the others).

    ## Action Space
    ``Discrete(max_degree)`` per agent: action ``k`` walks to the current node's ``k``-th
    neighbour, neighbours ordered as in GraphNav (by angle, counter-clockwise from +x, ties
    by node id). Actions ``k >= degree`` are masked (``obs["action_mask"]``): taking one
    raises ValueError naming the agent, the node and its degree, or with
    ``invalid_action="penalty"`` leaves the agent where it is and adds
    ``invalid_action_penalty`` to the team reward. Actions outside the space, missing
    actions and actions for agents that are not live always raise, naming the agent.

    ## Observation Space
    The same Dict for every agent, GraphNav's node features (``F = 7`` float32: ``x, y``,
    ``goal_dx, goal_dy``, ``goal_dist``, ``is_goal``, ``visited``, all relative to the
    agent's own goal, ``visited`` marking the nodes this agent stood on):

    - ``"node"`` ``(F,)`` the agent's node, ``"goal"`` ``(F,)`` its goal;
    - ``"neighbors"`` ``(D, F)`` row k = action k's node, zeros past the degree;
    - ``"edge_weights"`` ``(D,)`` the weight of each of those edges, 0 past the degree;
    - ``"others"`` ``(n_agents - 1, 5)``: for every other agent, starting with the next one
      by index and wrapping round, its node's and its goal's position minus this agent's
      node position, and 1 while it is still travelling (all 0 once it arrived);
    - ``"action_mask"`` ``MultiBinary(D)``: 1 for actions that move.

    ``D = max_degree``. ``state()`` (float32 in [0, 1]): per agent its node's ``x, y``, its
    goal's ``x, y`` and 1 while travelling, then the fraction of ``max_cycles`` used.

    ## Rewards
    The team reward, the same for every live agent: minus the total (congested) cost the
    agents paid this step, plus ``arrival_reward`` (default 1.0) per agent arriving this
    step, plus ``invalid_action_penalty`` per masked action under ``"penalty"``.

    ## Starting State
    Starts are distinct nodes drawn uniformly (each in a component of at least two nodes);
    each goal is drawn uniformly among the other nodes of its start's component (goals may
    coincide). ``starts`` / ``goals`` fix either list for every episode; with only the
    goals fixed, each start is drawn among the other nodes of its goal's component (starts
    may then coincide).

    ## Episode End
    An agent terminates on reaching its goal; the others are truncated after
    ``max_cycles`` steps. ``infos[agent]`` holds ``"optimal_cost"`` (its cheapest
    uncongested start-to-goal cost, by Dijkstra), ``"cost"`` (what it paid so far,
    congestion included), ``"is_success"`` (it has just arrived: on the last step every
    agent left has arrived exactly when all agents did) and ``"cost_ratio"`` (``cost /
    optimal_cost`` on arrival, ``inf`` before).

    ## Arguments
    - ``graph``: a family name, a networkx graph or a graph file path (see above).
    - ``n_agents``: number of agents (3).
    - ``num_nodes``: size of a generated graph (16); ``graph_seed``: the fixed graph's seed
      (0), None for a new graph every episode; ``graph_params``, ``weights``: as GraphNav's
      (family parameters; ``"euclidean"``, ``"unit"`` or ``"random"`` weights).
    - ``max_degree``: size of the action space (10); generated nodes above it lose their
      heaviest edges, a user graph above it raises (None: a fixed graph's own maximum).
    - ``congestion``: extra cost per extra agent on an edge, as a fraction of its weight (1.0).
    - ``arrival_reward``: team bonus per arrival (1.0).
    - ``invalid_action``: ``"raise"`` (default) or ``"penalty"``; ``invalid_action_penalty``
      (-1.0).
    - ``starts``, ``goals``: one node id per agent to use in every episode instead of random
      ones (default None: drawn per episode).
    - ``max_cycles``: steps per episode before truncation (50).
    - ``render_mode``: None, ``"rgb_array"`` or ``"human"``; ``render_size``: frame pixels
      (512). Each agent is a disc and its goal a square, in the agent's colour
      (:data:`envs.multiagent.base.AGENT_COLORS`); markers on one node nest.
    ``reset``'s ``options`` are ignored.

    ## Version History
    - v0: initial version.
    """

    metadata = {
        "name": "graph_routing_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        graph: str | os.PathLike[str] | nx.Graph = "geometric",
        *,
        n_agents: int = 3,
        num_nodes: int | None = None,
        graph_seed: int | None = 0,
        graph_params: Mapping[str, float] | None = None,
        weights: str | None = None,
        max_degree: int | None = 10,
        congestion: float = 1.0,
        arrival_reward: float = 1.0,
        invalid_action: str = "raise",
        invalid_action_penalty: float = -1.0,
        starts: Sequence[int] | None = None,
        goals: Sequence[int] | None = None,
        max_cycles: int = 50,
        render_mode: str | None = None,
        render_size: int = 512,
    ) -> None:
        n_agents = check_int("n_agents", n_agents, minimum=1)
        if invalid_action not in INVALID_ACTION_MODES:
            raise ValueError(
                f"unknown invalid_action {invalid_action!r}; valid: "
                + ", ".join(INVALID_ACTION_MODES)
            )
        if (
            isinstance(congestion, bool)
            or not isinstance(congestion, int | float)
            or not congestion >= 0
        ):
            raise ValueError(f"congestion must be a number >= 0, got {congestion!r}")
        self.congestion = float(congestion)
        self.arrival_reward = float(arrival_reward)
        self.invalid_action = invalid_action
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_size = check_int("render_size", render_size, minimum=64)

        fixed, self._spec = resolve_graph(
            graph,
            num_nodes,
            graph_seed,
            graph_params,
            weights,
            max_degree,
            default_num_nodes=DEFAULT_NUM_NODES,
        )
        if max_degree is None:
            max_degree = int(np.bincount(fixed.edges.ravel(), minlength=fixed.num_nodes).max())
        self.max_degree = check_int("max_degree", max_degree, minimum=1)
        self.num_nodes = fixed.num_nodes if fixed is not None else self._spec.num_nodes
        if self.num_nodes < n_agents:
            raise ValueError(
                f"the graph has {self.num_nodes} nodes, fewer than the {n_agents} agents' "
                "distinct starts"
            )
        if fixed is not None:
            top = float(fixed.weights.max())
        else:
            top = max_edge_weight(self._spec.weights)
        graph_space = dict_observation_space(self.max_degree, self.max_degree + 1, top)
        observation_space = spaces.Dict(
            {
                **{key: graph_space[key] for key in OBS_KEYS if key != OTHERS_KEY},
                OTHERS_KEY: spaces.Box(
                    np.tile(np.float32([-1, -1, -1, -1, 0]), (n_agents - 1, 1)),
                    np.ones((n_agents - 1, OTHER_FEATURES), dtype=np.float32),
                ),
            }
        )
        super().__init__(
            agents=agent_names("agent", n_agents),
            observation_space=observation_space,
            action_space=spaces.Discrete(self.max_degree),
            state_space=float_box(5 * n_agents + 1),
            max_cycles=max_cycles,
            render_mode=render_mode,
        )
        self._fixed_starts = _check_nodes("starts", starts, n_agents, self.num_nodes)
        self._fixed_goals = _check_nodes("goals", goals, n_agents, self.num_nodes)
        self._per_episode = fixed is None
        self._graph: Graph | None = None
        self._table: NeighborTable | None = None
        self._observer: DictObserver | None = None
        if fixed is not None:
            self._set_graph(fixed)
            if self._fixed_starts is not None and self._fixed_goals is not None:
                self._check_routes(self._fixed_starts, self._fixed_goals)
        n = n_agents
        self._nodes = np.zeros(n, dtype=np.int64)
        self._starts = np.zeros(n, dtype=np.int64)
        self._goals = np.zeros(n, dtype=np.int64)
        self._active = np.zeros(n, dtype=bool)
        self._cost = np.zeros(n)
        self._optimal = np.zeros(n)
        self._features: list[np.ndarray] = []
        self._dist_to_goal: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ graph
    def _set_graph(self, graph: Graph) -> None:
        self._graph = graph
        self._table = build_neighbor_table(graph)
        # A one-hop view is the smallest the observer builds; only its neighbour rows are used.
        self._observer = DictObserver(self._table, self.max_degree, self.max_degree + 1, 1)

    @property
    def graph(self) -> Graph | None:
        """This episode's graph (None before the first reset of a per-episode family)."""
        return self._graph

    # ------------------------------------------------------------------ episode
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        self._begin_episode(seed)
        if self._per_episode:
            self._set_graph(generate_graph(self._spec, self.np_random))
        self._starts, self._goals = self._endpoints(self._fixed_starts, self._fixed_goals)
        self._nodes = self._starts.copy()
        self._active[:] = True
        self._cost[:] = 0.0
        t = self._table
        self._optimal = np.array(
            [
                bidirectional_dijkstra(t.lists, t.weight_lists, int(s), int(g))
                for s, g in zip(self._starts, self._goals, strict=True)
            ]
        )
        self._features = [feature_table(self._graph.positions, int(g)) for g in self._goals]
        for i, start in enumerate(self._starts.tolist()):
            self._features[i][start, VISITED] = 1.0
        self._dist_to_goal = {}
        if self.render_mode == "human":
            self.render()
        return self._observations(), self._infos(np.zeros(self.max_num_agents, dtype=bool))

    def _endpoints(
        self, starts: np.ndarray | None, goals: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw what is not fixed from ``np_random``, then check every (start, goal) pair."""
        if starts is None and goals is None:
            component = self._table.component
            eligible = np.flatnonzero(np.bincount(component)[component] >= 2)
            if len(eligible) < self.max_num_agents:
                raise ValueError(
                    f"only {len(eligible)} nodes have an edge, fewer than the "
                    f"{self.max_num_agents} agents' distinct starts"
                )
            starts = self.np_random.choice(eligible, size=self.max_num_agents, replace=False)
        if starts is None:
            starts = np.array([self._other_node_in_component(int(g)) for g in goals])
        if goals is None:
            goals = np.array([self._other_node_in_component(int(s)) for s in starts])
        self._check_routes(starts, goals)
        return np.asarray(starts, dtype=np.int64), np.asarray(goals, dtype=np.int64)

    def _check_routes(self, starts: np.ndarray, goals: np.ndarray) -> None:
        """Every agent's goal differs from its start and lies in the same component."""
        component = self._table.component
        for i, (s, g) in enumerate(zip(starts.tolist(), goals.tolist(), strict=True)):
            agent = self.possible_agents[i]
            if s == g:
                raise ValueError(f"{agent}: start and goal are the same node ({s})")
            if component[s] != component[g]:
                raise ValueError(
                    f"{agent}: goal {g} cannot be reached from start {s} (different connected "
                    "components)"
                )

    def _other_node_in_component(self, node: int) -> int:
        members = self._table.component_members(node)
        if len(members) < 2:
            raise ValueError(f"start {node} has no edges, so no goal can be reached from it")
        pick = int(members[self.np_random.integers(len(members) - 1)])
        return int(members[-1]) if pick == node else pick

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        self._check_actions(actions)
        lists, weight_lists = self._table.lists, self._table.weight_lists
        live = [self.possible_agents.index(agent) for agent in self.agents]
        moves: dict[int, int] = {}  # agent index -> neighbour slot
        for i in live:
            k = int(actions[self.possible_agents[i]])
            degree = len(lists[self._nodes[i]])
            if k < degree:
                moves[i] = k
            elif self.invalid_action == "raise":
                raise ValueError(
                    f"action {k} is masked for agent {self.possible_agents[i]!r} at node "
                    f"{self._nodes[i]}: it has degree {degree}, so only actions 0..{degree - 1} "
                    "move (see obs['action_mask']); pass invalid_action='penalty' to allow "
                    "masked actions"
                )
        edges = {i: _edge_key(self._nodes[i], lists[self._nodes[i]][k]) for i, k in moves.items()}
        load = Counter(edges.values())
        arrived = np.zeros(self.max_num_agents, dtype=bool)
        paid = 0.0
        for i, k in moves.items():
            node = int(self._nodes[i])
            cost = weight_lists[node][k] * (1.0 + self.congestion * (load[edges[i]] - 1))
            nxt = lists[node][k]
            self._nodes[i] = nxt
            self._cost[i] += cost
            self._features[i][nxt, VISITED] = 1.0
            paid += cost
            arrived[i] = nxt == self._goals[i]
        masked = len(live) - len(moves)
        reward = (
            -paid + self.arrival_reward * int(arrived.sum()) + self.invalid_action_penalty * masked
        )
        self._active &= ~arrived
        observations, infos = self._observations(), self._infos(arrived)
        rewards = dict.fromkeys(self.agents, reward)
        terminations, truncations = self._end_cycle(
            {agent: bool(arrived[i]) for agent, i in zip(self.agents, live, strict=True)}
        )
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ observations
    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        positions = self._graph.positions
        here = positions[self._nodes]
        others = np.zeros((self.max_num_agents, OTHER_FEATURES), dtype=np.float32)
        others[:, 0:2] = here
        others[:, 2:4] = positions[self._goals]
        others[:, 4] = 1.0
        others[~self._active] = 0.0
        n = self.max_num_agents
        out = {}
        for agent in self.agents:
            i = self.possible_agents.index(agent)
            full = self._observer.observe(self._features[i], int(self._nodes[i]), self._goals[i])
            obs = {key: full[key] for key in OBS_KEYS if key != OTHERS_KEY}
            seen = others[(i + 1 + np.arange(n - 1)) % n]  # the next agent first, wrapping
            seen[:, 0:4] -= np.tile(here[i], 2) * seen[:, 4:5]
            obs[OTHERS_KEY] = seen
            out[agent] = obs
        return out

    def _infos(self, arrived: np.ndarray) -> dict[str, dict[str, Any]]:
        infos = {}
        for agent in self.agents:
            i = self.possible_agents.index(agent)
            cost = float(self._cost[i])
            infos[agent] = {
                "optimal_cost": float(self._optimal[i]),
                "cost": cost,
                "is_success": bool(arrived[i]),
                "cost_ratio": cost / float(self._optimal[i]) if arrived[i] else math.inf,
            }
        return infos

    def state(self) -> np.ndarray:
        positions = self._graph.positions
        per_agent = np.concatenate(
            [positions[self._nodes], positions[self._goals], self._active[:, None]], axis=1
        )
        used = min(self.num_cycles / self.max_cycles, 1.0)
        return np.append(per_agent.ravel(), used).astype(np.float32)

    # ------------------------------------------------------------------ oracle and inspection
    @property
    def agent_nodes(self) -> dict[str, int]:
        """Node of every agent (an arrived agent stays on its goal)."""
        return dict(zip(self.possible_agents, self._nodes.tolist(), strict=True))

    @property
    def goal_nodes(self) -> dict[str, int]:
        return dict(zip(self.possible_agents, self._goals.tolist(), strict=True))

    def neighbors(self, node: int) -> list[int]:
        """Neighbours of ``node`` in action order."""
        return list(self._table.lists[node])

    def shortest_path_actions(self) -> dict[str, int]:
        """Every live agent's first move on its own cheapest uncongested path (Dijkstra)."""
        t = self._table
        actions = {}
        for agent in self.agents:
            i = self.possible_agents.index(agent)
            dist = self._dist_to_goal.get(i)
            if dist is None:
                dist = self._dist_to_goal[i] = distances_to(
                    t.lists, t.weight_lists, int(self._goals[i])
                )
            actions[agent] = best_action(t.lists, t.weight_lists, dist, int(self._nodes[i]))
        return actions

    # ------------------------------------------------------------------ rendering
    def _frame(self) -> np.ndarray:
        """The graph with each goal as a square and each agent as a disc in its colour.

        Markers sharing a node are drawn concentrically, each smaller than the one before,
        so every colour stays visible.
        """
        from renders.graph import draw_graph, node_pixels

        size = self.render_size
        positions, edges = self._graph.positions, self._graph.edges
        # draw_graph marks one agent and goal in its own colours; the markers below cover them.
        frame = draw_graph(positions, edges, int(self._nodes[0]), int(self._goals[0]), size=size)
        centres = node_pixels(positions, size)
        half_side = max(2, round(_GOAL_HALF_SIDE * size))
        radius = max(3, round(_AGENT_RADIUS * size))
        for i, scale in _stacked(self._goals):
            half = max(1, round(half_side * scale))
            tint = _GOAL_TINT * np.array(agent_color(i)) + (1 - _GOAL_TINT) * 255.0
            _paint(frame, centres[self._goals[i]], np.ones((2 * half + 1,) * 2, bool), tint)
        for i, scale in _stacked(self._nodes):
            disc = _disc(max(1, round(radius * scale)))
            _paint(frame, centres[self._nodes[i]], disc, agent_color(i))
        return frame


def _stacked(nodes: np.ndarray) -> list[tuple[int, float]]:
    """(agent, scale) in drawing order: at a node shared by k agents, in agent order, the
    scales are 1, (k - 1) / k, ..., 1 / k."""
    seen: Counter[int] = Counter()
    totals = Counter(nodes.tolist())
    out = []
    for i, node in enumerate(nodes.tolist()):
        out.append((i, (totals[node] - seen[node]) / totals[node]))
        seen[node] += 1
    return out


def _paint(frame: np.ndarray, centre: np.ndarray, mask: np.ndarray, color: Any) -> None:
    """Set the pixels of an odd-sized ``mask`` centred on ``centre`` (clipped to the frame)."""
    reach = mask.shape[0] // 2
    top, left = int(centre[0]) - reach, int(centre[1]) - reach
    r0, c0 = max(top, 0), max(left, 0)
    r1 = min(top + mask.shape[0], frame.shape[0])
    c1 = min(left + mask.shape[1], frame.shape[1])
    window = frame[r0:r1, c0:c1]
    window[mask[r0 - top : r1 - top, c0 - left : c1 - left]] = np.rint(color).astype(np.uint8)


@lru_cache(maxsize=8)  # one entry per marker size in use
def _disc(radius: int) -> np.ndarray:
    """Boolean (2r + 1, 2r + 1) mask of a disc of ``radius`` pixels round the centre."""
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    mask = dy**2 + dx**2 <= radius**2
    mask.setflags(write=False)
    return mask


def _check_nodes(
    name: str, nodes: Sequence[int] | None, count: int, num_nodes: int
) -> np.ndarray | None:
    """``nodes`` as a (count,) int64 array of node ids (None stays None), or ValueError."""
    if nodes is None:
        return None
    array = np.asarray(nodes)
    if array.shape != (count,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be {count} node ids, one per agent, got {nodes!r}")
    bad = np.flatnonzero((array < 0) | (array >= num_nodes))
    if len(bad):
        raise ValueError(
            f"{name}[{bad[0]}] = {array[bad[0]]} is not a node of the graph (ids "
            f"0..{num_nodes - 1})"
        )
    return array.astype(np.int64)


def _edge_key(u: int, v: int) -> tuple[int, int]:
    """One key per undirected edge, whichever way it is walked."""
    return (int(u), int(v)) if u < v else (int(v), int(u))


__all__ = ["OBS_KEYS", "OTHERS_KEY", "GraphRoutingEnv"]
