"""GraphNavEnv: walk the edges of a weighted graph from a start node to a goal node."""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.graph.graphs import (
    Graph,
    generate_graph,
    max_edge_weight,
)
from envs.graph.layout import scale_to_unit_square
from envs.graph.loading import is_int, resolve_graph
from envs.graph.neighbors import NeighborTable, build_neighbor_table
from envs.graph.observation import (
    OBS_MODES,
    VISITED,
    DictObserver,
    bfs_view_order,
    dict_observation_space,
    feature_table,
    index_observation_space,
)
from envs.graph.oracle import (
    best_action,
    bidirectional_dijkstra,
    distances_to,
    shortest_path,
)
from envs.rendering import FrameRenderer

if TYPE_CHECKING:
    import networkx as nx  # only for annotations: the geometric and grid families never load it

DEFAULT_NUM_NODES = 20
INVALID_ACTION_MODES = ("raise", "penalty")
RESET_OPTIONS = ("start", "goal")
# Graphs up to this size are drawn whole; bigger ones only around the agent (see frame()).
RENDER_MAX_NODES = 500
RENDER_VIEW_HOPS = 3


class GraphNavEnv(gym.Env):
    """Navigate a weighted graph to a goal node, one edge per step.

    ## Description
    Every episode puts the agent on a start node and names a distinct goal node in the same
    connected component; the agent walks edges until it stands on the goal. Graphs come from
    generated families (``graph=``: ``"geometric"`` random geometric, ``"grid"`` a 2-D grid
    with holes, ``"watts_strogatz"``, ``"barabasi_albert"``, ``"tree"``) or are the user's own
    (a networkx graph, or a ``.graphml`` / ``.edgelist`` / ``.edges`` file). A generated graph
    is new every episode (drawn from the env's ``np_random``) unless ``graph_seed`` fixes it;
    a user's graph is always fixed. Generated graphs are always connected: a draw that is not
    is drawn again. Moves can be slippery and the observation can be limited to the
    ``view_hops``-hop neighbourhood. :meth:`optimal_action` and :meth:`optimal_path` give
    the exact optimum (Dijkstra), e.g. for tests and benchmarks.

    ## Action Space
    ``Discrete(max_degree)``: action ``k`` moves along the edge to the node's ``k``-th
    neighbour. Neighbours are ordered by the angle of ``pos[nbr] - pos[node]``,
    counter-clockwise from +x, ties by node id. Actions ``k >= degree`` are masked
    (``obs["action_mask"]``, :meth:`action_masks`): taking one raises ValueError naming the
    node, ``k`` and the degree, or with ``invalid_action="penalty"`` gives
    ``invalid_action_penalty`` and leaves the agent where it is (checkers that step with
    unmasked ``action_space.sample()``, such as Gymnasium's and SB3's ``check_env``, need the
    penalty). An action outside the space always raises. With ``slip_prob = p`` a valid move
    slips with probability ``p``: the agent then walks a uniformly random edge of its node
    instead (possibly the intended one).

    ## Observation Space
    ``obs_mode="dict"`` (default), a Dict of fixed-size arrays (``D = max_degree``,
    ``M = max_view_nodes``, ``F = 7`` float32 features per node: ``x, y`` position in the unit
    square, ``goal_dx, goal_dy`` goal position minus node position, ``goal_dist`` their
    Euclidean distance, ``is_goal``, ``visited`` (stood on this episode, current included)):

    - ``"node"`` ``(F,)``, ``"goal"`` ``(F,)``: the current node's and the goal's features;
    - ``"neighbors"`` ``(D, F)``: row k = the k-th neighbour (action k); zeros past the degree;
    - ``"edge_weights"`` ``(D,)``: weight of the edge to the k-th neighbour; 0 past the degree;
    - ``"view_nodes"`` ``(M, F)``: row 0 the current node, rows 1..deg its neighbours in action
      order, then further nodes in BFS order up to ``view_hops`` hops (None: its whole
      component), at most M rows; zeros past the end;
    - ``"view_adjacency"`` ``(M, M)``: symmetric edge weights among the view rows, 0 = no edge;
    - ``"view_mask"`` ``MultiBinary(M)``, ``"action_mask"`` ``MultiBinary(D)``: 1 for rows that
      hold a node / for allowed actions.

    ``obs_mode="index"`` (tabular agents; needs a fixed graph): ``Discrete(N)``, the node id,
    when the goal is fixed by ``goal=`` (a goal changed through reset options is then not
    shown), else ``Discrete(N * N)`` with ``goal * N + node``.

    Positions are the graph's own when it has them (geometric, grid, a user's ``"pos"`` or
    ``"x"``/``"y"`` node attributes), fitted into ``[0, 1]^2`` keeping the aspect ratio;
    otherwise a layout computed once per graph (see :mod:`envs.graph.layout`).

    ## Rewards
    Minus the weight of the edge walked, plus ``goal_reward`` on reaching the goal. A masked
    action under ``invalid_action="penalty"`` gives ``invalid_action_penalty`` instead.
    Weights: ``weights="euclidean"`` (edge length; the default for geometric graphs),
    ``"unit"`` (the default for the other families), ``"random"`` (uniform in [1, 5]); a
    user's graph uses its ``"weight"`` edge attribute unless ``weights`` is given.

    ## Starting State
    Start and goal are drawn from ``np_random`` among distinct nodes of one connected
    component, unless fixed by ``start=`` / ``goal=`` or by
    ``reset(options={"start": s, "goal": g})`` for one episode.

    ## Episode End
    Terminated on reaching the goal. Truncation comes from the registered
    ``max_episode_steps`` (``gymnasium.make`` adds the TimeLimit); with
    ``allow_unreachable=True`` and a goal outside the start's component it is the only end.

    ## Information
    Every ``reset`` and ``step`` info has ``optimal_cost`` (cheapest start-to-goal cost,
    ``inf`` if unreachable), ``cost`` (weight walked so far; invalid-action penalties are not
    part of it), ``is_success`` (this step reached the goal) and ``cost_ratio``:
    ``cost / optimal_cost`` on the step that reaches the goal (1.0 on an optimal path, up to
    float rounding: the two sums add the same weights in different orders), and
    ``inf`` on every other step, so an episode that fails or is truncated reports ``inf``.

    ## Arguments
    - ``graph``: a family name (``"geometric"`` default, ``"grid"``, ``"watts_strogatz"``,
      ``"barabasi_albert"``, ``"tree"``), a networkx graph, or a GraphML / edge-list path.
      A user graph's nodes are renumbered ``0..N-1`` in sorted label order (``node_labels``
      maps ids back); it must be undirected, without self-loops or parallel edges.
    - ``num_nodes``: size of a generated graph (default 20).
    - ``graph_seed``: draw the generated graph once from this seed and keep it (None: a new
      graph every episode). For a user graph, the seed of its layout and random weights.
    - ``graph_params``: family parameters: geometric ``radius`` (default
      ``sqrt(2.3 ln n / (pi n))``: 20 / 50 nodes get a mean degree of 4.8 / 7.1 and 55 % /
      73 % of draws are connected; the others are redrawn), grid ``hole_fraction`` (0.2;
      holes are leaves of a random spanning tree, so the grid stays connected),
      watts_strogatz ``k`` (4) and ``p`` (0.1), barabasi_albert ``m`` (2).
    - ``weights``: ``"euclidean"``, ``"unit"`` or ``"random"``; None for the default above.
    - ``max_degree``: size of the action space (default 10). A generated node above it loses
      its heaviest edges (among equal weights, those to the busiest neighbours first; a draw
      this disconnects is redrawn). A user graph above it raises; ``max_degree=None`` takes
      the degree of a fixed graph.
    - ``max_view_nodes``: rows of the view (default 64; at least ``max_degree + 1``).
    - ``view_hops``: hops of the view (None: the whole component, which must fit in
      ``max_view_nodes`` rows: a bigger graph raises at construction).
    - ``obs_mode``: ``"dict"`` or ``"index"``.
    - ``start``, ``goal``: fixed node ids (None: drawn each episode).
    - ``allow_unreachable``: let a fixed start and goal lie in different components.
    - ``slip_prob``: probability that a move slips to a uniformly random edge.
    - ``goal_reward``: bonus on reaching the goal (default 1.0).
    - ``invalid_action``: ``"raise"`` (default) or ``"penalty"`` for masked actions.
    - ``invalid_action_penalty``: reward of a masked action under ``"penalty"`` (default -1.0).
    - ``render_mode``: None, ``"rgb_array"`` or ``"human"``; ``render_size``: frame pixels.

    ## Version History
    - v0: initial release.
    """

    metadata = {
        "render_modes": ["human", "rgb_array"],
        "render_fps": 4,
        "eval_metrics": ("cost_ratio",),  # eval.json reports mean_cost_ratio (successes)
    }

    def __init__(
        self,
        graph: str | os.PathLike[str] | nx.Graph = "geometric",
        *,
        num_nodes: int | None = None,
        graph_seed: int | None = None,
        graph_params: Mapping[str, float] | None = None,
        weights: str | None = None,
        max_degree: int | None = 10,
        max_view_nodes: int = 64,
        view_hops: int | None = None,
        obs_mode: str = "dict",
        start: int | None = None,
        goal: int | None = None,
        allow_unreachable: bool = False,
        slip_prob: float = 0.0,
        goal_reward: float = 1.0,
        invalid_action: str = "raise",
        invalid_action_penalty: float = -1.0,
        render_mode: str | None = None,
        render_size: int = 512,
    ) -> None:
        _check_options(obs_mode, invalid_action, slip_prob, view_hops, render_size)
        self.obs_mode = obs_mode
        self.view_hops = view_hops
        self.allow_unreachable = bool(allow_unreachable)
        self.slip_prob = float(slip_prob)
        self.goal_reward = float(goal_reward)
        self.invalid_action = invalid_action
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_mode = render_mode
        self.render_size = int(render_size)
        self._renderer = FrameRenderer(render_mode, self.metadata, "palaestra graph navigation")

        fixed, self._spec = resolve_graph(
            graph,
            num_nodes,
            graph_seed,
            graph_params,
            weights,
            max_degree,
            default_num_nodes=DEFAULT_NUM_NODES,
        )
        self.num_nodes = fixed.num_nodes if fixed is not None else self._spec.num_nodes
        self.max_degree = _resolve_max_degree(max_degree, fixed)
        self.max_view_nodes = _check_view_size(
            max_view_nodes, self.max_degree, view_hops, self.num_nodes, obs_mode
        )
        self.fixed_start = _check_node("start", start, self.num_nodes)
        self.fixed_goal = _check_node("goal", goal, self.num_nodes)
        self.action_space = spaces.Discrete(self.max_degree)
        self.observation_space = self._make_observation_space(fixed)

        self._graph: Graph | None = None
        self._table: NeighborTable | None = None
        self._observer: DictObserver | None = None
        self._eligible_starts: np.ndarray | None = None
        self._per_episode = fixed is None
        if fixed is not None:
            self._set_graph(fixed)
        self._check_endpoints(self.fixed_start, self.fixed_goal)
        self._cur: int | None = None
        self._start = self._goal = -1
        self._cost = 0.0
        self._optimal_cost = math.inf
        self._features: np.ndarray | None = None
        self._goal_offset = 0
        self._dist_to_goal: np.ndarray | None = None
        self._walked: list[int] = []

    # ------------------------------------------------------------------ construction

    def _make_observation_space(self, fixed: Graph | None) -> spaces.Space:
        if self.obs_mode == "dict":
            top = max_edge_weight(self._spec.weights) if fixed is None else fixed.weights.max()
            return dict_observation_space(self.max_degree, self.max_view_nodes, float(top))
        if fixed is None:
            raise ValueError(
                "obs_mode='index' needs a fixed graph (a user graph, or pass graph_seed) so "
                "node ids mean the same node in every episode"
            )
        return index_observation_space(self.num_nodes, goal_fixed=self.fixed_goal is not None)

    def _set_graph(self, graph: Graph) -> None:
        self._graph = graph
        self._table = build_neighbor_table(graph)
        if self.obs_mode == "dict":
            self._observer = DictObserver(
                self._table, self.max_degree, self.max_view_nodes, self.view_hops
            )
        sizes = np.bincount(self._table.component)[self._table.component]
        self._eligible_starts = np.flatnonzero(sizes >= 2)

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        start, goal = self._reset_options(options)
        if self._per_episode:
            self._set_graph(generate_graph(self._spec, self.np_random))
        start, goal = self._choose_endpoints(start, goal)
        self._start = self._cur = start
        self._goal = goal
        self._cost = 0.0
        self._optimal_cost = bidirectional_dijkstra(
            self._table.lists, self._table.weight_lists, start, goal
        )
        self._dist_to_goal = None
        self._walked = [start]
        if self.obs_mode == "dict":
            self._features = feature_table(self._graph.positions, goal)
            self._features[start, VISITED] = 1.0
        else:
            self._goal_offset = 0 if self.fixed_goal is not None else goal * self.num_nodes
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info(False)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if type(action) is int and 0 <= action < self.max_degree:
            k = action
        else:
            k = self._parse_action(action)
        cur = self._cur
        if cur is None:
            raise RuntimeError("call reset() before step()")
        neighbors = self._table.lists[cur]
        degree = len(neighbors)
        if k >= degree:
            return self._masked_step(cur, k, degree)
        if self.slip_prob and self.np_random.random() < self.slip_prob:
            k = int(self.np_random.integers(degree))
        nxt = neighbors[k]
        weight = self._table.weight_lists[cur][k]
        self._cost += weight
        self._cur = nxt
        self._walked.append(nxt)
        if self._features is not None:
            self._features[nxt, VISITED] = 1.0
        reached = nxt == self._goal
        reward = self.goal_reward - weight if reached else -weight
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, reached, False, self._info(reached)

    def _masked_step(
        self, cur: int, k: int, degree: int
    ) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self.invalid_action == "raise":
            raise ValueError(
                f"action {k} is masked at node {cur}: it has degree {degree}, so only actions "
                f"0..{degree - 1} move (see obs['action_mask'] or action_masks()); pass "
                "invalid_action='penalty' to allow masked actions"
            )
        if self.render_mode == "human":
            self.render()
        return self._observation(), self.invalid_action_penalty, False, False, self._info(False)

    def _parse_action(self, action: Any) -> int:
        try:
            k = action.__index__()
        except (AttributeError, TypeError):
            k = -1
        if isinstance(action, bool) or not 0 <= k < self.max_degree:
            raise ValueError(
                f"action {action!r} is outside the action space Discrete({self.max_degree}); "
                f"valid actions: 0..{self.max_degree - 1} (the k-th neighbour)"
            )
        return k

    def _observation(self) -> Any:
        if self._observer is None:
            return self._goal_offset + self._cur
        return self._observer.observe(self._features, self._cur, self._goal)

    def _info(self, reached: bool) -> dict[str, Any]:
        cost = self._cost
        return {
            "optimal_cost": self._optimal_cost,
            "cost": cost,
            "is_success": reached,
            "cost_ratio": cost / self._optimal_cost if reached else math.inf,
        }

    # ------------------------------------------------------------------ start and goal
    def _reset_options(self, options: dict[str, Any] | None) -> tuple[int | None, int | None]:
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown reset options {unknown}; valid options: {', '.join(RESET_OPTIONS)}"
            )
        start = options.get("start", self.fixed_start)
        goal = options.get("goal", self.fixed_goal)
        return _check_node("start", start, self.num_nodes), _check_node(
            "goal", goal, self.num_nodes
        )

    def _choose_endpoints(self, start: int | None, goal: int | None) -> tuple[int, int]:
        """Fill in the missing endpoints from ``np_random`` (same component, distinct)."""
        if start is None and goal is None:
            eligible = self._eligible_starts
            start = int(eligible[self.np_random.integers(len(eligible))])
        if start is None:
            start = self._other_node_in_component(goal, "goal")
        if goal is None:
            goal = self._other_node_in_component(start, "start")
        self._check_endpoints(start, goal)
        return start, goal

    def _other_node_in_component(self, node: int, name: str) -> int:
        members = self._table.component_members(node)
        if len(members) < 2:
            raise ValueError(f"{name}={node} has no edges, so no other node can be reached from it")
        pick = int(members[self.np_random.integers(len(members) - 1)])
        return int(members[-1]) if pick == node else pick

    def _check_endpoints(self, start: int | None, goal: int | None) -> None:
        if start is not None and start == goal:
            raise ValueError(f"start and goal are the same node ({start}); they must differ")
        if self._table is None or start is None or goal is None:
            return
        component = self._table.component
        if component[start] != component[goal] and not self.allow_unreachable:
            raise ValueError(
                f"goal {goal} cannot be reached from start {start} (different connected "
                "components); pass allow_unreachable=True to allow such episodes"
            )

    # ------------------------------------------------------------------ oracle
    def optimal_action(self) -> int:
        """The action starting a cheapest path from the current node to the goal."""
        dist = self._distances_to_goal()
        if self._cur == self._goal:
            raise ValueError(f"the agent is already at the goal ({self._goal})")
        return best_action(self._table.lists, self._table.weight_lists, dist, self._cur)

    def optimal_path(self) -> list[int]:
        """Node ids of a cheapest path from the current node to the goal (both included)."""
        dist = self._distances_to_goal()
        return shortest_path(self._table.lists, self._table.weight_lists, dist, self._cur)

    def _distances_to_goal(self) -> np.ndarray:
        """Cheapest cost from every node to the goal: one Dijkstra per episode, on demand."""
        if self._cur is None:
            raise RuntimeError("call reset() before asking for the optimal action or path")
        if self._dist_to_goal is None:
            t = self._table
            self._dist_to_goal = distances_to(t.lists, t.weight_lists, self._goal)
        if not math.isfinite(self._dist_to_goal[self._cur]):
            raise ValueError(f"the goal {self._goal} cannot be reached from node {self._cur}")
        return self._dist_to_goal

    # ------------------------------------------------------------------ inspection
    @property
    def graph(self) -> Graph | None:
        """This episode's graph (positions, edges, weights); None before the first reset of a
        per-episode family."""
        return self._graph

    @property
    def node_labels(self) -> tuple[Hashable, ...] | None:
        """A user graph's original label of each node id (None for generated graphs)."""
        return None if self._graph is None else self._graph.labels

    @property
    def agent_node(self) -> int | None:
        return self._cur

    @property
    def start_node(self) -> int:
        return self._start

    @property
    def goal_node(self) -> int:
        return self._goal

    @property
    def walked(self) -> list[int]:
        """Nodes stood on this episode, in order, the start first."""
        return list(self._walked)

    def neighbors(self, node: int) -> list[int]:
        """Neighbours of ``node`` in action order."""
        return list(self._table.lists[node])

    def action_masks(self) -> np.ndarray:
        """(max_degree,) bool: which actions move (sb3-contrib's MaskablePPO reads this)."""
        return np.arange(self.max_degree) < len(self._table.lists[self._cur])

    # ------------------------------------------------------------------ rendering
    def frame(self, size: int | None = None) -> np.ndarray:
        """The current picture as a (size, size, 3) uint8 array.

        Graphs up to ``RENDER_MAX_NODES`` nodes are drawn whole with the walked path and a
        cheapest path to the goal; bigger ones only the nodes within ``RENDER_VIEW_HOPS``
        hops of the agent (``view_hops`` if set, at most ``max_view_nodes`` nodes), rescaled
        to fill the frame, with the goal only when it is among them and the paths only
        where they stay among them (the end of the walk, the start of the optimal path).
        """
        from renders.graph import draw_graph

        size = self.render_size if size is None else int(size)
        nodes = self._render_nodes()
        positions, edges = self._graph.positions, self._graph.edges
        optimal = self._optimal_path_or_empty()
        if nodes is None:
            return draw_graph(
                positions, edges, self._cur, self._goal, self._walked, optimal, size=size
            )
        local = {node: i for i, node in enumerate(nodes)}
        return draw_graph(
            scale_to_unit_square(positions[nodes]),
            self._subgraph_edges(nodes, local),
            0,
            local.get(self._goal, 0),  # outside the view: hidden under the agent
            _local_run(self._walked[::-1], local)[::-1],
            _local_run(optimal, local),
            size=size,
        )

    def _render_nodes(self) -> list[int] | None:
        if self._graph.num_nodes <= RENDER_MAX_NODES:
            return None
        hops = self.view_hops or RENDER_VIEW_HOPS
        return bfs_view_order(self._table.lists, self._cur, hops, self.max_view_nodes)

    def _subgraph_edges(self, nodes: list[int], local: dict[int, int]) -> np.ndarray:
        """(E', 2) edges among ``nodes``, as indices into ``nodes``."""
        pairs = [
            (i, j)
            for i, u in enumerate(nodes)
            for v in self._table.lists[u]
            if (j := local.get(v, -1)) > i
        ]
        return np.array(pairs, dtype=np.int64).reshape(-1, 2)

    def _optimal_path_or_empty(self) -> list[int]:
        try:
            return self.optimal_path()
        except ValueError:
            return []

    def render(self) -> np.ndarray | None:
        return self._renderer.render(self.frame)

    def close(self) -> None:
        self._renderer.close()


def _local_run(path: list[int], local: dict[int, int]) -> list[int]:
    """Local indices of the leading part of ``path`` whose nodes are all in ``local``."""
    run = []
    for node in path:
        if node not in local:
            break
        run.append(local[node])
    return run


# ---------------------------------------------------------------------- argument checks
def _check_options(
    obs_mode: str, invalid_action: str, slip_prob: float, view_hops: int | None, render_size: int
) -> None:
    if obs_mode not in OBS_MODES:
        raise ValueError(f"unknown obs_mode {obs_mode!r}; valid modes: {', '.join(OBS_MODES)}")
    if invalid_action not in INVALID_ACTION_MODES:
        raise ValueError(
            f"unknown invalid_action {invalid_action!r}; valid: {', '.join(INVALID_ACTION_MODES)}"
        )
    if not 0.0 <= slip_prob <= 1.0:
        raise ValueError(f"slip_prob must be a probability in [0, 1], got {slip_prob}")
    if view_hops is not None and (not is_int(view_hops) or view_hops < 1):
        raise ValueError(f"view_hops must be an integer >= 1 or None, got {view_hops!r}")
    if not is_int(render_size) or render_size < 16:
        raise ValueError(f"render_size must be an integer >= 16, got {render_size!r}")


def _resolve_max_degree(max_degree: int | None, fixed: Graph | None) -> int:
    if max_degree is not None:
        return int(max_degree)
    return int(np.bincount(fixed.edges.ravel(), minlength=fixed.num_nodes).max())


def _check_view_size(
    max_view_nodes: int, max_degree: int, view_hops: int | None, num_nodes: int, obs_mode: str
) -> int:
    if not is_int(max_view_nodes) or max_view_nodes < max_degree + 1:
        raise ValueError(
            f"max_view_nodes must be an integer >= max_degree + 1 = {max_degree + 1} (the "
            f"current node and all its neighbours), got {max_view_nodes!r}"
        )
    if obs_mode == "dict" and view_hops is None and num_nodes > max_view_nodes:
        raise ValueError(
            f"view_hops=None shows the whole graph, but num_nodes={num_nodes} is more than "
            f"max_view_nodes={max_view_nodes}: pass view_hops (e.g. view_hops=2) for a local "
            "view, or raise max_view_nodes"
        )
    return int(max_view_nodes)


def _check_node(name: str, node: Any, num_nodes: int) -> int | None:
    if node is None:
        return None
    if not is_int(node) or not 0 <= node < num_nodes:
        raise ValueError(
            f"{name}={node!r} is not a node id of this graph: ids are 0..{num_nodes - 1} (a "
            "user graph's labels map to ids through node_labels)"
        )
    return int(node)
