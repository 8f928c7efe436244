"""Checks every palaestra multi-agent env must pass, written once for all their tests.

``make_env`` is a callable taking keyword arguments (at least ``render_mode``) and returning
a fresh PettingZoo ``ParallelEnv``, e.g. ``functools.partial(CoverEnv, n_agents=2)``.
Import with ``from ma_checks import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.test import api_test, parallel_api_test, render_test
from pettingzoo.utils.conversions import parallel_to_aec

MakeEnv = Callable[..., ParallelEnv]


def check_pettingzoo_api(make_env: MakeEnv, num_cycles: int = 200) -> None:
    """PettingZoo's parallel and AEC API tests, its render test, and the palaestra spec:
    homogeneous cached spaces, a float32 ``state()`` inside ``state_space``, metadata keys."""
    with warnings.catch_warnings():
        # Discrete observations are numpy integer scalars, as in Gymnasium, not arrays.
        warnings.filterwarnings("ignore", "Observation is not a NumPy array")
        parallel_api_test(make_env(), num_cycles=num_cycles)
        api_test(parallel_to_aec(make_env()), num_cycles=num_cycles)
    render_test(lambda render_mode=None: parallel_to_aec(make_env(render_mode=render_mode)))
    check_palaestra_spec(make_env)


def check_palaestra_spec(make_env: MakeEnv) -> None:
    """What the multi-agent spec adds to PettingZoo's API (see envs/multiagent)."""
    env = make_env()
    metadata = env.metadata
    assert metadata["name"].endswith("_v0"), metadata["name"]
    assert set(metadata["render_modes"]) == {"human", "rgb_array"}
    assert isinstance(metadata["render_fps"], int)
    assert metadata["is_parallelizable"] is True
    assert hasattr(env, "max_cycles")

    first = env.possible_agents[0]
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent), "not cached"
        assert env.action_space(agent) is env.action_space(agent), "not cached"
        assert env.observation_space(agent) == env.observation_space(first), agent
        assert env.action_space(agent) == env.action_space(first), agent
        assert isinstance(env.action_space(agent), spaces.Discrete), agent

    assert isinstance(env.state_space, spaces.Box)
    observations, infos = env.reset(seed=0)
    assert set(observations) == set(infos) == set(env.possible_agents)
    _check_state(env)
    rng = np.random.default_rng(0)
    while env.agents:
        observations, *_ = env.step(random_actions(env, observations, rng))
        _check_state(env)
    env.close()


def _check_state(env: ParallelEnv) -> None:
    state = env.state()
    assert isinstance(state, np.ndarray)
    assert state.dtype == np.float32, state.dtype
    assert env.state_space.contains(state), f"state {state} outside {env.state_space}"


def check_rejects_bad_actions(make_env: MakeEnv, invalid_action: Any = None) -> None:
    """A missing action, an action for a non-live agent and an invalid action each raise
    ValueError naming the agent; ``invalid_action`` defaults to one past the Discrete range."""
    env = make_env()
    observations, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    agent = env.agents[-1]
    if invalid_action is None:
        space = env.action_space(agent)
        invalid_action = int(space.start + space.n)

    missing = random_actions(env, observations, rng)
    del missing[agent]
    with pytest.raises(ValueError, match=agent):
        env.step(missing)

    extra = random_actions(env, observations, rng)
    extra["not_an_agent"] = 0
    with pytest.raises(ValueError, match="not_an_agent"):
        env.step(extra)

    invalid = random_actions(env, observations, rng)
    invalid[agent] = invalid_action
    with pytest.raises(ValueError, match=agent):
        env.step(invalid)

    for bad_type in (1.5, "0"):
        typed = random_actions(env, observations, rng)
        typed[agent] = bad_type
        with pytest.raises(ValueError, match=agent):
            env.step(typed)
    env.close()


def check_determinism(
    make_env: MakeEnv, steps: int = 500, seed: int = 0, min_episodes: int = 2
) -> None:
    """Two envs reset with the same seed and fed the same random actions produce identical
    observations, rewards, terminations, truncations, infos and states for ``steps`` steps.

    Only the first reset is seeded; later resets continue each env's generator, which is
    how a training loop uses them. At least ``min_episodes`` episodes must end in the run.
    """
    env_a, env_b = make_env(), make_env()
    rng = np.random.default_rng(seed + 1)
    obs_a, info_a = env_a.reset(seed=seed)
    obs_b, info_b = env_b.reset(seed=seed)
    assert_same((obs_a, info_a), (obs_b, info_b), "reset 0")
    episodes = 0
    for step in range(steps):
        actions = random_actions(env_a, obs_a, rng)
        out_a = env_a.step(actions)
        out_b = env_b.step(actions)
        assert_same(out_a, out_b, f"step {step}")
        assert_same(env_a.state(), env_b.state(), f"state at step {step}")
        obs_a = out_a[0]
        if not env_a.agents:
            assert not env_b.agents, f"step {step}: one env ended, the other did not"
            episodes += 1
            obs_a, info_a = env_a.reset()
            obs_b, info_b = env_b.reset()
            assert_same((obs_a, info_a), (obs_b, info_b), f"reset {episodes}")
    assert episodes >= min_episodes, f"only {episodes} episodes ended in {steps} steps"
    env_a.close()
    env_b.close()


def random_actions(
    env: ParallelEnv, observations: Mapping[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    """A uniformly random valid action for every live agent, honouring an ``action_mask``
    in a dict observation."""
    actions = {}
    for agent in env.agents:
        space = env.action_space(agent)
        obs = observations.get(agent)
        if isinstance(obs, Mapping) and "action_mask" in obs:
            valid = np.flatnonzero(obs["action_mask"])
            actions[agent] = int(space.start + rng.choice(valid))
        else:
            actions[agent] = int(space.start + rng.integers(space.n))
    return actions


def assert_same(a: Any, b: Any, where: str) -> None:
    """Exact, recursive equality of nested dicts, sequences, arrays and scalars."""
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{where}: keys {set(a)} != {set(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.array_equal(a, b), f"{where}: {a} != {b}"
        assert np.asarray(a).dtype == np.asarray(b).dtype, f"{where}: dtypes differ"
    elif isinstance(a, Sequence) and not isinstance(a, str):
        assert isinstance(b, Sequence) and len(a) == len(b), f"{where}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
