"""The structured tool-use interface: the expert, the one-to-one map from structured to
text actions, masks, tokens and slots."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from envs.tooluse.structured import (
    ACTIONS,
    MAX_NAMES,
    UNK,
    VOCABULARY,
    StructuredToolUse,
    make_structured_env,
)
from envs.tooluse.text_env import ToolUseEnv
from envs.tooluse.tools import parse_action
from envs.tooluse.world import TASK_TYPES


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_the_expert_solves_every_task_with_the_fewest_calls_and_no_unknown_tokens(
    task_type: str,
) -> None:
    env = make_structured_env(difficulty=3)
    for seed in range(40):
        obs, info = env.reset(seed=seed, options={"task_type": task_type})
        done = False
        while not done:
            action = env.expert_action()
            assert obs["action_mask"][action] == 1
            assert not (obs["tokens"] == UNK).any(), env.text_env.transcript
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        assert info["is_success"] and info["calls"] == info["min_calls"], seed


def test_three_number_word_problems_take_one_call_per_operator() -> None:
    env = make_structured_env(difficulty=3, task_types=["arithmetic"])
    for seed in range(60):
        _, info = env.reset(seed=seed)
        operators = len(env.text_env.task.plan[0].args["expression"].split()) // 2
        assert info["min_calls"] == operators


def random_states(n: int, seed: int = 0):
    """(structured env, text env) pairs in the same state, after random allowed actions."""
    rng = np.random.default_rng(seed)
    for episode in range(n):
        structured = make_structured_env(difficulty=2)
        obs, _ = structured.reset(seed=episode)
        for _ in range(int(rng.integers(0, 5))):
            allowed = np.flatnonzero(obs["action_mask"])
            action = int(rng.choice(allowed))
            if json.loads(structured.text_action(action))["tool"] == "answer":
                continue  # keep the episode going
            obs, *_ = structured.step(action)
        yield structured, obs


def test_every_structured_action_maps_to_exactly_one_text_action() -> None:
    for structured, obs in random_states(30):
        allowed = np.flatnonzero(obs["action_mask"])
        texts = [structured.text_action(int(a)) for a in allowed]
        assert len(set(texts)) == len(texts)  # one-to-one
        for text in texts:
            call = parse_action(text)  # a well-formed text action
            assert call.tool in ("lookup", "search", "calculator", "answer")
        # The same action twice gives the same text: the map is a function of the state.
        assert texts == [structured.text_action(int(a)) for a in allowed]


def test_a_structured_step_is_the_text_env_step_of_its_text_action() -> None:
    rng = np.random.default_rng(1)
    for seed in range(20):
        structured = make_structured_env()
        text = ToolUseEnv()
        obs, _ = structured.reset(seed=seed)
        text.reset(seed=seed)
        for _ in range(6):
            action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
            text_action = structured.text_action(action)
            obs, reward, terminated, truncated, info = structured.step(action)
            _, text_reward, text_terminated, _, text_info = text.step(text_action)
            assert reward == text_reward and terminated == text_terminated
            assert structured.text_env.transcript == text.transcript
            assert info["calls"] == text_info["calls"]
            if terminated or truncated:
                break


def test_masked_or_invalid_actions_raise_naming_the_problem() -> None:
    env = make_structured_env(task_types=["lookup"])
    obs, _ = env.reset(seed=0)
    masked = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    with pytest.raises(ValueError, match="empty slot"):
        env.step(masked)
    with pytest.raises(ValueError, match="outside"):
        env.step(len(ACTIONS))
    with pytest.raises(ValueError, match="ints"):
        env.step("lookup")


def test_names_keep_their_slot_in_every_mention() -> None:
    env = make_structured_env(task_types=["two_hop"])
    obs, _ = env.reset(seed=3)
    while True:
        obs, _, terminated, truncated, _ = env.step(env.expert_action())
        if terminated or truncated:
            break
    slots = obs["token_slots"]
    tokens = obs["tokens"]
    named = slots[(slots >= 1) & (slots <= MAX_NAMES)]
    # The question's entity is looked up by name and named again in the result: its slot
    # tags tokens in at least two places, spelled the same way each time.
    first = int(named[0])
    spelled = tokens[slots == first]
    runs = np.split(spelled, np.flatnonzero(np.diff(np.flatnonzero(slots == first)) > 1) + 1)
    assert len(runs) >= 2 and all(np.array_equal(runs[0], r) for r in runs)


def test_observations_stay_in_the_space_and_follow_the_seed() -> None:
    # Gymnasium's check_env steps random actions, and most structured actions are masked
    # (their slots are empty) and raise; so its checks are done here with allowed actions.
    def rollout(seed: int) -> list[dict[str, np.ndarray]]:
        env = make_structured_env()
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        seen = [obs]
        for _ in range(8):
            obs, _, terminated, truncated, _ = env.step(
                int(rng.choice(np.flatnonzero(obs["action_mask"])))
            )
            seen.append(obs)
            if terminated or truncated:
                obs, _ = env.reset()
                seen.append(obs)
        return seen

    env = make_structured_env()
    first, again = rollout(5), rollout(5)
    for a, b in zip(first, again, strict=True):
        assert env.observation_space.contains(a)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert any(
        not np.array_equal(a["tokens"], b["tokens"])
        for a, b in zip(first, rollout(6), strict=False)
    )


def test_is_registered_with_the_text_envs_arguments() -> None:
    made = gym.make("palaestra/ToolUseStructured-v0", task_types=["two_hop"])
    assert isinstance(made.unwrapped, ToolUseEnv)
    assert made.unwrapped.task_types == ("two_hop",)
    assert made.spec is not None and made.spec.max_episode_steps == 12
    env = make_structured_env()
    assert made.observation_space == env.observation_space
    assert len(VOCABULARY) == env.observation_space["tokens"].high.max() + 1
    assert isinstance(env, StructuredToolUse)


def test_a_call_already_made_is_masked_and_raises_unless_repeats_are_allowed() -> None:
    env = make_structured_env(task_types=["two_hop"])
    obs, _ = env.reset(seed=4)
    call = env.expert_action()
    assert obs["action_mask"][call]
    obs, *_ = env.step(call)
    assert not obs["action_mask"][call]  # the tools are deterministic: nothing new to learn
    assert obs["action_mask"][env.expert_action()]
    with pytest.raises(ValueError, match="repeats a call"):
        env.step(call)
    env.reset(seed=4)  # a new episode forgets the calls of the last one
    assert env.action_mask()[call]

    free = make_structured_env(mask_repeated_calls=False, task_types=["two_hop"])
    obs, _ = free.reset(seed=4)
    first = free.step(call)
    again = free.step(call)
    assert again[0]["action_mask"][call] and again[4]["calls"] == first[4]["calls"] + 1
    made = gym.make("palaestra/ToolUseStructured-v0", mask_repeated_calls=False)
    assert made.get_wrapper_attr("mask_repeated_calls") is False
