"""palaestra environments. Importing this package registers every id with Gymnasium.

Ids are namespaced and versioned (``palaestra/Name-v0``) and registered as data with string
entry points, so ``gymnasium.make("palaestra/...")`` works after ``import envs``.

Atari games keep ale-py's own ids (``ALE/Pong-v5``); :mod:`envs.atari` wraps them in the
DQN-paper preprocessing and imports ale-py (an optional extra) only when one is made.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from envs.gridworld import maps

_GRIDWORLD = "envs.gridworld.gridworld:GridWorldEnv"
_GRAPH = "envs.graph.graphnav:GraphNavEnv"
_TOOLUSE = "envs.tooluse.text_env:ToolUseEnv"

# id -> (registration kwargs, max_episode_steps, one-line description for `palaestra list`)
GRIDWORLD_IDS: dict[str, tuple[dict, int, str]] = {
    "palaestra/GridWorld-v0": (
        {"map": maps.GRIDWORLD},
        100,
        "default 5x8 room with a wall and a hole; -0.01 a step, +1 at the goal",
    ),
    "palaestra/TinyGrid-v0": (
        {"map": maps.TINY},
        50,
        "3x3, start to opposite corner: the classic Q-learning example",
    ),
    "palaestra/CliffWalking-v0": (
        {"map": maps.CLIFF, "step_reward": -1.0, "goal_reward": -1.0, "cliff_reward": -100.0},
        500,
        "Sutton & Barto 4x12 cliff: -1 a step, -100 and back to start off the cliff",
    ),
    "palaestra/FrozenLake8x8-v0": (
        {"map": maps.FROZEN_LAKE_8X8, "slippery": True, "step_reward": 0.0},
        200,
        "Gymnasium's slippery 8x8 frozen lake: +1 at the goal, holes end the episode",
    ),
    "palaestra/WindyGrid-v0": (
        {"map": maps.WINDY, "wind": maps.WINDY_WIND, "step_reward": -1.0, "goal_reward": -1.0},
        500,
        "Sutton & Barto 7x10 windy gridworld: upward wind per column, -1 a step",
    ),
    "palaestra/FourRooms-v0": (
        {"map": maps.FOUR_ROOMS},
        200,
        "Sutton, Precup & Singh four rooms joined by hallways",
    ),
    "palaestra/DoorKey-v0": (
        {"map": maps.DOOR_KEY},
        200,
        "pick up the key, open the locked door, reach the goal (6 actions)",
    ),
    "palaestra/Maze-v0": (
        {"maze_size": 15, "maze_seed": 0},
        1000,
        "random perfect maze; maze_size (odd) and maze_seed as arguments",
    ),
}


# Same shape as GRIDWORLD_IDS; kwargs are plain data, so `import envs` loads no networkx.
GRAPH_IDS: dict[str, tuple[dict, int, str]] = {
    "palaestra/GraphNav-v0": (
        {"graph": "geometric"},  # num_nodes defaults to 20; graph= a user graph works too
        100,
        "new 20-node random geometric graph each episode; -edge length a move, +1 at the goal",
    ),
    "palaestra/GraphNavFixed-v0": (
        {
            "graph": "geometric",
            "num_nodes": 12,
            "graph_seed": 0,
            "obs_mode": "index",
            "invalid_action": "penalty",  # an index observation carries no action mask
        },
        50,
        "one fixed 12-node geometric graph, index observation (goal*N + node), for tabular "
        "agents (a masked move costs 1 and stays put)",
    ),
    "palaestra/GraphNavGrid-v0": (
        {"graph": "grid", "num_nodes": 40},
        150,
        "new 40-cell grid with holes each episode, unit weights, full view",
    ),
    "palaestra/GraphNavLocal-v0": (
        {"graph": "geometric", "num_nodes": 200, "view_hops": 2},
        400,
        "new 200-node geometric graph each episode; only the 2-hop neighbourhood is visible",
    ),
    "palaestra/GraphNavSlippery-v0": (
        {"graph": "geometric", "num_nodes": 16, "graph_seed": 1, "slip_prob": 0.2},
        100,
        "fixed 16-node geometric graph; 20% of moves slip to a random edge",
    ),
}

# Same shape; observations and actions are text (an LLM-style agent talks to it).
TOOLUSE_IDS: dict[str, tuple[dict, int, str]] = {
    "palaestra/ToolUse-v0": (
        {"difficulty": 2},
        12,
        "answer a question about a generated world with calculator/lookup/search tool calls "
        "(text in, text out); +1 correct, -0.01 a call, -0.05 an invalid one",
    ),
}

# The same tasks behind token ids and one discrete, masked action (learning agents).
TOOLUSE_STRUCTURED_IDS: dict[str, tuple[dict, int, str]] = {
    "palaestra/ToolUseStructured-v0": (
        {"difficulty": 2},
        12,
        "ToolUse-v0 as token ids + slot tags; one discrete action (tool and arguments from "
        "the names and numbers seen), with an action mask",
    ),
}

# (ids, entry point) of every family.
_FAMILIES: tuple[tuple[dict[str, tuple[dict, int, str]], str], ...] = (
    (GRIDWORLD_IDS, _GRIDWORLD),
    (GRAPH_IDS, _GRAPH),
    (TOOLUSE_IDS, _TOOLUSE),
    (TOOLUSE_STRUCTURED_IDS, "envs.tooluse.structured:make_structured_env"),
)


def _register_all() -> None:
    for ids, entry_point in _FAMILIES:
        for env_id, (kwargs, max_steps, _) in ids.items():
            if env_id in registry:  # importing twice (e.g. reload) must not warn
                continue
            register(id=env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=max_steps)


def env_descriptions() -> dict[str, str]:
    """Registered palaestra ids, the multi-agent ones included, with a one-line description
    each."""
    from envs.multiagent import MULTIAGENT_IDS  # PettingZoo has no registry of its own

    single = {env_id: desc for ids, _ in _FAMILIES for env_id, (_, _, desc) in ids.items()}
    return single | {env_id: desc for env_id, (_, _, desc) in MULTIAGENT_IDS.items()}


_register_all()
