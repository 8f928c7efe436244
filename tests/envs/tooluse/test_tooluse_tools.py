"""Tools: schemas, the action format, lookup and search results and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.tooluse.tools import (
    MAX_SEARCH_RESULTS,
    TOOL_NAMES,
    TOOL_SCHEMAS,
    ActionError,
    execute,
    parse_action,
    tool_schemas,
    validate_args,
)
from envs.tooluse.world import ATTRIBUTE_NAMES, Entity, ToolCall, World, generate_episode


def small_world() -> World:
    people = [
        Entity("Talo Vendor", "person", ("ta", "lo", " ", "ven", "dor"),
               {"born": 1970, "home_city": "Marrin", "employer": "Kavelo Corp", "height": 180}),
        Entity("Kesi Vendor", "person", ("ke", "si", " ", "ven", "dor"),
               {"born": 1980, "home_city": "Marrin", "employer": "Kavelo Corp", "height": 170}),
    ]  # fmt: skip
    return World(
        (
            Entity("Norvel", "country", ("nor", "vel"),
                   {"capital": "Marrin", "population": 900000, "area": 5000,
                    "continent": "Borealis"}),
            Entity("Marrin", "city", ("mar", "rin"),
                   {"country": "Norvel", "population": 12345, "founded": 1843,
                    "mayor": "Talo Vendor", "elevation": 20}),
            Entity("Kavelo Corp", "company", ("ka", "ve", "lo", " ", "corp"),
                   {"headquarters": "Marrin", "ceo": "Kesi Vendor", "employees": 1843,
                    "revenue": 5300, "founded": 1990}),
            *people,
        )
    )  # fmt: skip


def test_schemas_are_openai_function_tools() -> None:
    assert [s["function"]["name"] for s in TOOL_SCHEMAS] == list(TOOL_NAMES)
    for schema in TOOL_SCHEMAS:
        assert schema["type"] == "function"
        fn = schema["function"]
        assert set(fn) == {"name", "description", "parameters"} and fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert params["required"] == list(params["properties"])
        assert all(p["type"] == "string" for p in params["properties"].values())
    lookup = TOOL_SCHEMAS[1]["function"]["parameters"]["properties"]
    assert lookup["attribute"]["enum"] == list(ATTRIBUTE_NAMES)
    json.dumps(TOOL_SCHEMAS)  # plain JSON
    copy = tool_schemas()
    copy[0]["function"]["name"] = "changed"
    assert TOOL_SCHEMAS[0]["function"]["name"] == "calculator"


@pytest.mark.parametrize(
    ("text", "call"),
    [
        (
            '{"tool": "calculator", "args": {"expression": "2"}}',
            ("calculator", {"expression": "2"}),
        ),
        ('  {"args": {"keyword": "x"}, "tool": "search"}\n', ("search", {"keyword": "x"})),
        ('```json\n{"tool": "answer", "args": {"value": 42}}\n```', ("answer", {"value": "42"})),
        ('{"tool": "answer", "args": {"value": 2.5}}', ("answer", {"value": "2.5"})),
        ("answer: 1,234 people", ("answer", {"value": "1,234 people"})),
        ("ANSWER:Marrin\n", ("answer", {"value": "Marrin"})),
    ],
)
def test_parse_action_accepts_json_calls_and_answer_lines(text: str, call: tuple) -> None:
    assert parse_action(text) == ToolCall(*call)


@pytest.mark.parametrize(
    ("text", "message", "tool"),
    [
        ("", "empty action", None),
        ("hello", "not a tool call: 'hello'", None),
        ("answer:  ", "the answer is empty", "answer"),
        ('{"tool": "lookup", "args": {', "malformed JSON", None),
        ("[1, 2]", "not a tool call", None),
        ('{"tool": "lookup"}', "missing ['args']", None),
        ('{"tool": "x", "args": {}, "more": 1}', "unexpected keys ['more']", None),
        ('{"tool": "shell", "args": {"cmd": "ls"}}', "unknown tool 'shell'", None),
        ('{"tool": 3, "args": {}}', "unknown tool int", None),
        ('{"tool": "lookup", "args": {"entity": "X"}}', "missing argument 'attribute'", "lookup"),
        ('{"tool": "search", "args": {"keyword": "a", "k": 1}}', "no argument 'k'", "search"),
        ('{"tool": "search", "args": {"keyword": 5}}', "must be a string, got number", "search"),
        ('{"tool": "answer", "args": {"value": true}}', "got boolean", "answer"),
        ('{"tool": "answer", "args": {"value": null}}', "got null", "answer"),
        ('{"tool": "search", "args": ["x"]}', "must be a JSON object", "search"),
        ("[" * 100_000, "not a tool call", None),
        ("{" * 100_000, "malformed JSON", None),
        ('{"tool": "answer", "args": {"value": ' + "9" * 5000 + "}}", "malformed JSON", None),
    ],
)
def test_parse_action_errors_say_what_is_wrong(text: str, message: str, tool: str | None) -> None:
    with pytest.raises(ActionError) as caught:
        parse_action(text)
    assert message in str(caught.value)
    assert caught.value.tool == tool


def test_deeply_nested_json_is_an_action_error_not_a_recursion_error() -> None:
    text = '{"tool": "answer", "args": {"value": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    with pytest.raises(ActionError):
        parse_action(text)


def test_validate_args_rejects_non_objects() -> None:
    with pytest.raises(ActionError, match="args of lookup must be a JSON object"):
        validate_args("lookup", "Marrin")


def test_lookup_reads_values_with_units_and_forgives_case_and_spacing() -> None:
    world = small_world()
    result = execute(world, ToolCall("lookup", {"entity": " marrin ", "attribute": "Population"}))
    assert result.ok and result.content == "Marrin population: 12345 people"
    assert result.call == ToolCall("lookup", {"entity": "Marrin", "attribute": "population"})
    call = ToolCall("lookup", {"entity": "Talo Vendor", "attribute": "home city"})
    assert execute(world, call).content == "Talo Vendor home_city: Marrin"
    revenue = execute(world, ToolCall("lookup", {"entity": "Kavelo Corp", "attribute": "revenue"}))
    assert revenue.content == "Kavelo Corp revenue: 5300 million USD"


@pytest.mark.parametrize(
    ("entity", "attribute", "message"),
    [
        ("Marin", "population", "unknown entity 'Marin'; did you mean Marrin?"),
        ("Zzz", "population", "unknown entity 'Zzz'"),
        ("Marrin", "ceo", "no attribute 'ceo' for Marrin, a city; a city has: country,"),
        ("Marrin", "colour", "unknown attribute 'colour' for Marrin"),
        ("x" * 400, "area", "..."),
    ],
)
def test_lookup_errors(entity: str, attribute: str, message: str) -> None:
    result = execute(small_world(), ToolCall("lookup", {"entity": entity, "attribute": attribute}))
    assert not result.ok and result.content.startswith("error: ")
    assert message in result.content
    assert len(result.content) < 300  # the agent's text is quoted cut short


def test_search_lists_exact_names_then_exact_values_then_substrings() -> None:
    result = execute(small_world(), ToolCall("search", {"keyword": "MARRIN"}))
    assert result.ok
    assert result.content.splitlines() == [
        "5 matches for 'MARRIN':",
        "Marrin (city): name = Marrin",
        "Norvel (country): capital = Marrin",
        "Kavelo Corp (company): headquarters = Marrin",
        "Kesi Vendor (person): home_city = Marrin",
        "Talo Vendor (person): home_city = Marrin",
    ]
    numbers = execute(small_world(), ToolCall("search", {"keyword": "1843"})).content
    assert numbers.splitlines()[1:] == [
        "Marrin (city): founded = 1843",
        "Kavelo Corp (company): employees = 1843",
    ]
    no_digits = execute(small_world(), ToolCall("search", {"keyword": "184"})).content
    assert no_digits == "no matches for '184'"  # numbers match whole only
    partial = execute(small_world(), ToolCall("search", {"keyword": "vendor"})).content
    assert partial.splitlines()[1:] == [
        "Marrin (city): mayor = Talo Vendor",
        "Kavelo Corp (company): ceo = Kesi Vendor",
        "Kesi Vendor (person): name = Kesi Vendor",
        "Talo Vendor (person): name = Talo Vendor",
    ]


def test_search_without_matches_and_with_an_empty_keyword() -> None:
    world = small_world()
    assert execute(world, ToolCall("search", {"keyword": "qqq"})).content == "no matches for 'qqq'"
    empty = execute(world, ToolCall("search", {"keyword": "   "}))
    assert not empty.ok and empty.content == "error: the keyword is empty"


def test_search_caps_its_results() -> None:
    world = generate_episode(np.random.default_rng(0), "lookup", 3, 8).world
    result = execute(world, ToolCall("search", {"keyword": "a"}))
    lines = result.content.splitlines()
    assert len(lines) == MAX_SEARCH_RESULTS + 2 and lines[-1].endswith("more not shown)")


def test_calculator_tool_reports_errors_as_not_ok() -> None:
    world = small_world()
    assert execute(world, ToolCall("calculator", {"expression": "12 * 35"})).content == "420"
    bad = execute(world, ToolCall("calculator", {"expression": "12 ** 99"}))
    assert not bad.ok and bad.content.startswith("error: ")


def test_execute_does_not_run_answers() -> None:
    with pytest.raises(ValueError, match="not 'answer'"):
        execute(small_world(), ToolCall("answer", {"value": "1"}))
