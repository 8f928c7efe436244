"""Graph navigation: walk a weighted graph's edges to a goal node (``palaestra/GraphNav-v0``).

- :mod:`envs.graph.graphs`: the graph record and the generated families;
- :mod:`envs.graph.loading`: a user's graph (networkx, GraphML, edge lists) and its checks;
- :mod:`envs.graph.layout`: node positions in the unit square;
- :mod:`envs.graph.neighbors`: neighbours in action order (angle counter-clockwise from +x);
- :mod:`envs.graph.oracle`: Dijkstra, the optimal cost, action and path;
- :mod:`envs.graph.observation`: the ``dict`` observation layout and its builder;
- :mod:`envs.graph.graphnav`: :class:`GraphNavEnv`.
"""
