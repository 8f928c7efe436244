"""Shared multi-agent helpers: action checks, agent colours, cycle bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from envs.multiagent.base import (
    AGENT_COLORS,
    MultiAgentEnv,
    agent_color,
    agent_names,
    check_actions,
    float_box,
)
from renders.gridworld import AGENT_COLOR

AGENTS = ["a_0", "a_1"]
SPACE = spaces.Discrete(3)


def _space_of(agent: str) -> spaces.Space:
    return SPACE


def test_valid_actions_pass() -> None:
    check_actions({"a_0": 0, "a_1": np.int64(2)}, AGENTS, _space_of)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"a_0": 0}, r"no action for live agent 'a_1'; live agents: \['a_0', 'a_1'\]"),
        ({"a_0": 0, "a_1": 0, "a_9": 1}, "actions given for 'a_9', which are not live agents"),
        ({"a_0": 3, "a_1": 0}, r"invalid action 3 for agent 'a_0'; valid actions: integers 0..2"),
        ({"a_0": 0, "a_1": -1}, "invalid action -1 for agent 'a_1'"),
        ({"a_0": 1.0, "a_1": 0}, "invalid action 1.0 for agent 'a_0'"),
        ({"a_0": "1", "a_1": 0}, "invalid action '1' for agent 'a_0'"),
        ([0, 1], "actions must be a dict keyed by agent, got list"),
    ],
)
def test_bad_actions_name_the_agent(actions, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_actions(actions, AGENTS, _space_of)


def test_agent_colours_are_distinct_and_agent_0_matches_the_gridworld() -> None:
    assert len(set(AGENT_COLORS)) == len(AGENT_COLORS) >= 8
    assert agent_color(0) == AGENT_COLOR
    assert agent_color(len(AGENT_COLORS) + 1) == agent_color(1)


def test_agent_names() -> None:
    assert agent_names("predator", 3) == ["predator_0", "predator_1", "predator_2"]
    with pytest.raises(ValueError, match="number of agents must be >= 1"):
        agent_names("x", 0)


class _Countdown(MultiAgentEnv):
    metadata = {"name": "countdown_v0", "render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, max_cycles: int) -> None:
        super().__init__(AGENTS, float_box(1), SPACE, float_box(1), max_cycles, None)


def test_end_cycle_truncates_at_max_cycles_and_drops_finished_agents() -> None:
    env = _Countdown(max_cycles=3)
    env._begin_episode(seed=0)
    assert env._end_cycle({"a_0": True, "a_1": False}) == (
        {"a_0": True, "a_1": False},
        {"a_0": False, "a_1": False},
    )
    assert env.agents == ["a_1"]
    env._end_cycle(False)
    assert env._end_cycle(False) == ({"a_1": False}, {"a_1": True})
    assert env.agents == [] and env.num_cycles == 3
    with pytest.raises(ValueError, match="no live agents; call reset"):
        env._check_actions({})


def test_begin_episode_seeds_np_random_and_spaces_reject_unknown_agents() -> None:
    env = _Countdown(max_cycles=3)
    env._begin_episode(seed=7)
    first = env.np_random.integers(1 << 30)
    env._begin_episode(seed=7)
    assert env.np_random.integers(1 << 30) == first
    with pytest.raises(ValueError, match="unknown agent 'b'"):
        env.action_space("b")
