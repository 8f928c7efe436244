"""The training command on PettingZoo envs: train, eval, watch, and clear errors when a
learner and an env do not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.training.training_support import invoke
from training import train
from training.config import ConfigError

CLIMBING = "palaestra/ClimbingGame-v0"
STATELESS = {"agent.gamma": 0.0, "agent.stateless": True}


def test_hysteretic_learners_train_to_the_climbing_games_optimum(tmp_path: Path) -> None:
    result = train(
        env=CLIMBING,
        agent="hysteretic_q",
        steps=3000,
        out=str(tmp_path / "run"),
        eval_episodes=3,
        verbose=False,
        **STATELESS,
    )
    # 25 plays of the optimal joint action (0, 0), 11 each; independent learners get 5.
    assert result.eval["mean_return"] == pytest.approx(11 * 25)
    evaluation = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert evaluation["mean_return"] == pytest.approx(275.0)
    assert Image.open(tmp_path / "run" / "policy.gif").format == "GIF"

    eval_out = invoke("eval", str(tmp_path / "run"), "--episodes", "2", "--json")
    assert eval_out.exit_code == 0, eval_out.output
    assert json.loads(eval_out.output)["mean_return"] == pytest.approx(275.0)
    watched = invoke(
        "watch", str(tmp_path / "run"), "--no-window", "--record", str(tmp_path / "w.gif")
    )
    assert watched.exit_code == 0, watched.output
    assert "return 275.000, length 25" in watched.output
    assert Image.open(tmp_path / "w.gif").format == "GIF"


@pytest.mark.parametrize(
    ("env_id", "agent", "message"),
    [
        (
            CLIMBING,
            "q_learning",
            "single-agent learner but 'palaestra/ClimbingGame-v0' is a multi-agent",
        ),
        (
            "palaestra/TinyGrid-v0",
            "iql",
            "multi-agent learner but 'palaestra/TinyGrid-v0' is a single-agent",
        ),
    ],
)
def test_a_learner_of_the_wrong_kind_fails_before_writing(
    tmp_path: Path, env_id: str, agent: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        train(env=env_id, agent=agent, steps=100, out=str(tmp_path / "run"), verbose=False)
    assert not (tmp_path / "run").exists()


def test_unknown_env_keyword_of_a_multiagent_env_lists_the_valid_ones(tmp_path: Path) -> None:
    result = invoke(
        "train",
        "--env",
        CLIMBING,
        "--agent",
        "iql",
        "--set",
        "env.max_cycle=5",
        "--out",
        str(tmp_path / "run"),
    )
    assert result.exit_code == 2
    assert "max_cycle" in result.output and "max_cycles" in result.output
    assert not (tmp_path / "run").exists()


def test_list_shows_the_multiagent_envs_and_learners() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    for name in (CLIMBING, "palaestra/CoopCover-v0", "hysteretic_q"):
        assert name in result.output


class ShortestPaths:
    """Only what evaluation uses of a learner: ``act``, here each agent's next move on its
    own shortest path, for every agent it is given an observation of."""

    def __init__(self, env) -> None:
        self.env = env

    def act(self, observations: dict, deterministic: bool = True) -> dict:
        moves = self.env.unwrapped.shortest_path_actions()
        return {agent: moves[agent] for agent in observations}


def test_evaluation_asks_only_live_agents_to_act_after_some_have_arrived() -> None:
    from agents.evaluation import run_episode
    from envs.multiagent import parallel_env

    env = parallel_env("palaestra/GraphRouting-v0")
    # Agents arrive at different steps and leave env.agents; asking a finished agent for an
    # action would make the env raise.
    result = run_episode(ShortestPaths(env), env, seed=3)
    assert result.success and result.ended
