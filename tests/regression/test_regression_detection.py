"""The framework catches real bugs and ignores seed noise, on the shipped cases and baselines.

Bugs arrive the two ways they do in practice: a patch to the learner's code (a wrong discount
in the TD target) and a configuration change (a learning rate divided by 100), judged
against the committed baseline as if the code had changed. Fresh seeds are the opposite
test: the same code trained from five seeds the baseline never saw must not be flagged.
How robust that is was measured offline over many seed sets (see the README section).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.tabular import QLearning
from training.config import lookup_agent, resolve_agent_config
from training.regression.case import load_cases
from training.regression.suite import check_case
from training.regression.verdict import Comparison

HERE = Path(__file__).parent
CASES = load_cases(HERE / "cases")
BASELINES = HERE / "baselines"
FRESH_SEEDS = (1000, 1001, 1002, 1003, 1004)  # no case's baseline uses these


def agent_setting(case_name: str, field: str) -> Any:
    """The value a case trains with: its ``set`` entry, else the agent's default."""
    config = CASES[case_name].train_config(0)
    agent_config = resolve_agent_config(lookup_agent(config.agent), config.agent_config, "cpu")
    return getattr(agent_config, field)


def check(case_name: str, tmp_path: Path, **kwargs: Any) -> tuple[Comparison, Path | None]:
    outcome = check_case(CASES[case_name], baselines_dir=BASELINES, out_dir=tmp_path, **kwargs)
    return outcome.comparison, outcome.png


def test_a_wrong_discount_in_the_td_target_is_flagged(tmp_path, monkeypatch) -> None:
    def td_target_with_wrong_discount(
        self: QLearning, r: float, s2: int, a2: int | None, terminated: bool
    ) -> float:
        # The bug: a hard-coded 0.5 where self._gamma (0.99) belongs. Far-away goals become
        # worth less than the step costs on the way, so the agent settles for the hole.
        return r if terminated else r + 0.5 * max(self.q[s2].tolist())

    monkeypatch.setattr(QLearning, "td_target", td_target_with_wrong_discount)
    verdict, png = check("q_learning_gridworld", tmp_path)
    assert verdict.status == "regressed", verdict.summary()
    message = verdict.failure_message(png)
    assert "REGRESSION in case 'q_learning_gridworld'" in message
    assert "IQM return -0.060 vs baseline 0.900 (-0.960;" in message  # into the hole
    assert f"plot: {png}" in message and png.is_file()


def test_a_tabular_step_size_divided_by_100_is_flagged(tmp_path) -> None:
    alpha = agent_setting("q_learning_gridworld", "alpha")
    verdict, _ = check("q_learning_gridworld", tmp_path, overrides={"agent.alpha": alpha / 100})
    assert verdict.status == "regressed", verdict.summary()
    assert verdict.regressions[-1].step is None  # the area under the curve drops too


def test_a_deep_learning_rate_divided_by_100_is_flagged(tmp_path) -> None:
    lr = agent_setting("ppo_umaze", "learning_rate")
    verdict, _ = check("ppo_umaze", tmp_path, overrides={"agent.learning_rate": lr / 100})
    assert verdict.status == "regressed", verdict.summary()
    final = [f for f in verdict.regressions if f.step == CASES["ppo_umaze"].steps]
    assert final and final[0].new == pytest.approx(-1.0)  # loops until the time limit
    assert final[0].baseline == pytest.approx(0.95)


@pytest.mark.parametrize("case_name", ["q_learning_gridworld", "ppo_umaze"])
def test_five_fresh_seeds_are_not_a_false_alarm(tmp_path, case_name: str) -> None:
    verdict, png = check(case_name, tmp_path, seeds=FRESH_SEEDS)
    assert not verdict.failed, verdict.failure_message(png)
    assert verdict.note == "new seeds"
