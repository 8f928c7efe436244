"""Case files: what they may say, what they expand to, and the errors a typo gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError
from training.regression.case import RegressionCase, load_case, load_cases, select_cases

HERE = Path(__file__).parent


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = "agent: q_learning\nenv: palaestra/TinyGrid-v0\nsteps: 1000\nseeds: [0, 1]\n"


def test_a_minimal_case_file_gets_the_documented_defaults(tmp_path) -> None:
    case = load_case(write(tmp_path, "tiny", MINIMAL + "eval_every: 300\n"))
    assert case.name == "tiny"
    assert case.seeds == (0, 1)
    assert case.eval_steps == (300, 600, 900, 1000)  # the budget's end is always a point
    assert (case.tier, case.device, case.eval_episodes) == ("fast", "cpu", 10)


def test_set_holds_train_overrides_and_reaches_the_train_config(tmp_path) -> None:
    text = (
        MINIMAL
        + "eval_steps: [500, 1000]\nset:\n  agent.alpha: 0.5\n  env.observation_mode: index\n"
    )
    config = load_case(write(tmp_path, "tiny", text)).train_config(seed=3)
    assert (config.env, config.agent, config.steps, config.seed) == (
        "palaestra/TinyGrid-v0",
        "q_learning",
        1000,
        3,
    )
    assert config.agent_config == {"alpha": 0.5}
    assert config.env_kwargs == {"observation_mode": "index"}
    assert config.device == "cpu"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("seed: [1]\neval_every: 100\n", "unknown"),  # typo of seeds
        ("eval_every: 100\ntolerence: 1\n", "did you mean 'tolerance'"),
        ("", "eval_steps"),  # no schedule at all
        ("eval_steps: [500, 200]\n", "strictly increasing"),
        ("eval_steps: [5000]\n", "within 1..steps"),
        ("eval_every: 0\n", "eval_every=0: expected an int >= 1"),
        ("eval_every: 100\ntier: nightly\n", "tier"),
        ("eval_every: 100\nset:\n  steps: 5\n", "set.steps is a case field"),
        ("eval_every: 100\nconfidence: 1.5\n", "confidence"),
        ("eval_every: 100\nsteps_extra: 1\n", "valid keys"),
    ],
)
def test_case_file_mistakes_fail_with_one_line_naming_the_file(tmp_path, extra, message) -> None:
    path = write(tmp_path, "bad", MINIMAL + extra)
    with pytest.raises(ConfigError, match=message) as error:
        load_case(path)
    assert "\n" not in str(error.value)
    assert "bad" in str(error.value)


def test_missing_required_keys_are_listed(tmp_path) -> None:
    with pytest.raises(ConfigError, match="missing required key"):
        load_case(write(tmp_path, "bad", "agent: q_learning\neval_every: 10\n"))


def test_a_wrong_override_fails_when_the_config_is_built(tmp_path) -> None:
    case = load_case(write(tmp_path, "x", MINIMAL + "eval_every: 100\nset:\n  stepz: 4\n"))
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        case.train_config(0)


def test_select_by_name_and_tier(tmp_path) -> None:
    write(tmp_path, "a", MINIMAL + "eval_every: 500\n")
    write(tmp_path, "b", MINIMAL + "eval_every: 500\ntier: slow\n")
    cases = load_cases(tmp_path)
    assert [c.name for c in select_cases(cases, tier="fast")] == ["a"]
    assert [c.name for c in select_cases(cases, tier="all")] == ["a", "b"]
    assert [c.name for c in select_cases(cases, ["b"], tier="all")] == ["b"]
    with pytest.raises(ConfigError, match=r"unknown regression case 'c'.*valid cases: a, b"):
        select_cases(cases, ["c"])


def test_definition_leaves_out_what_does_not_change_curves() -> None:
    case = RegressionCase("c", "palaestra/TinyGrid-v0", "q_learning", 100, (0,), eval_every=50)
    same_curves = case.with_changes(seeds=(5, 6), tolerance=1.0, confidence=0.5)
    other_curves = case.with_changes(overrides={"agent.alpha": 0.3})
    assert same_curves.definition() == case.definition()
    assert other_curves.definition() != case.definition()
    assert other_curves.definition()["set"] == {"agent.alpha": 0.3}


def test_every_shipped_case_file_loads_and_describes_itself() -> None:
    cases = load_cases(HERE / "cases")
    assert cases, "no regression cases shipped"
    for case in cases.values():
        assert case.description, f"{case.name}: say what the case guards in `description`"
        case.train_config(case.seeds[0])  # every override is a valid config key
