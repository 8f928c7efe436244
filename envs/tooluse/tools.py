"""The tools: their schemas (OpenAI function-calling form), the action format and execution.

Tools: ``calculator(expression)``, ``lookup(entity, attribute)``, ``search(keyword)`` and
``answer(value)`` (ends the episode; the env checks it, :meth:`Task.is_correct`).
:data:`TOOL_SCHEMAS` holds them as ``{"type": "function", "function": {"name",
"description", "parameters"}}`` (JSON Schema parameters, every argument a required string,
no extra arguments); :func:`tool_schemas` returns a fresh copy for a chat-completions
request.

An action is text: a JSON object ``{"tool": <name>, "args": {...}}`` (optionally inside a
```` ``` ```` code fence), or the plain line ``answer: <value>``. :func:`parse_action`
turns it into a :class:`~envs.tooluse.world.ToolCall` or raises :class:`ActionError` with a
message meant for the agent; :func:`format_action` writes one. The arguments must match the
schema exactly (missing, extra or wrongly typed arguments are errors), except that
``answer``'s ``value`` may also be a JSON number.

``search`` matches names and text values by substring but numbers only whole: a search
for "19" listing every year of the 1900s would answer a comparison in one call instead
of the plan's two lookups.

:func:`execute` runs ``calculator``, ``lookup`` or ``search`` on a world and never raises:
a bad expression, an unknown entity or attribute are a :class:`ToolResult` with ``ok``
False and an ``"error: ..."`` text. Results look like::

    calculator   420
    lookup       Marrin population: 1234567 people
    search       2 matches for 'Marrin':
                 Marrin (city): name = Marrin
                 Kavelo Corp (company): headquarters = Marrin
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from envs.tooluse.calculator import calculator
from envs.tooluse.world import (
    ATTRIBUTE_NAMES,
    KIND_ATTRIBUTES,
    KINDS,
    ToolCall,
    World,
    format_value,
)

TOOL_NAMES = ("calculator", "lookup", "search", "answer")
MAX_SEARCH_RESULTS = 20
# Longest piece of the agent's own text quoted back in an error message.
MAX_QUOTE_CHARS = 60


def _function(name: str, description: str, parameters: dict[str, dict[str, Any]]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": parameters,
                "required": list(parameters),
                "additionalProperties": False,
            },
        },
    }


TOOL_SCHEMAS: tuple[dict[str, Any], ...] = (
    _function(
        "calculator",
        "Evaluate an arithmetic expression exactly. Numbers, + - * / // % **, parentheses.",
        {"expression": {"type": "string", "description": "for example '12 * 35 - 7'"}},
    ),
    _function(
        "lookup",
        "Look up one attribute of a country, city, person or company by its exact name.",
        {
            "entity": {"type": "string", "description": "the entity's name, e.g. 'Marrin'"},
            "attribute": {
                "type": "string",
                "enum": list(ATTRIBUTE_NAMES),
                "description": "the attribute to read",
            },
        },
    ),
    _function(
        "search",
        "List the entities whose name or any attribute value contains the keyword "
        "(case-insensitive; a number must equal it), with the field that matched.",
        {"keyword": {"type": "string", "description": "text to find, e.g. a city's name"}},
    ),
    _function(
        "answer",
        "Give the final answer and end the episode.",
        {"value": {"type": "string", "description": "a number (units allowed) or a name"}},
    ),
)
_PARAMETERS = {s["function"]["name"]: s["function"]["parameters"] for s in TOOL_SCHEMAS}


def tool_schemas() -> list[dict[str, Any]]:
    """A fresh copy of :data:`TOOL_SCHEMAS` (callers may edit it)."""
    return copy.deepcopy(list(TOOL_SCHEMAS))


class ActionError(ValueError):
    """An action the env cannot run; ``tool`` is the tool it named when it named a known one."""

    def __init__(self, message: str, tool: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool


@dataclass(frozen=True)
class ToolResult:
    """What a call returned: ``ok`` False for errors (their text starts with ``"error: "``);
    ``call`` is the call with names and attributes spelled as the world spells them."""

    ok: bool
    content: str
    call: ToolCall


# ---------------------------------------------------------------------- actions
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)
_ANSWER_LINE = re.compile(r"answer\s*:(.*)", re.DOTALL | re.IGNORECASE)
_ACTION_HELP = 'an action is a JSON object {"tool": <name>, "args": {...}} or "answer: <value>"'


def format_action(call: ToolCall) -> str:
    """The JSON action text for ``call``."""
    return call.to_action()


def quote(text: str) -> str:
    """``text`` quoted for an error message, cut to :data:`MAX_QUOTE_CHARS`."""
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS] + "..."
    return repr(text)


def parse_action(text: str) -> ToolCall:
    """The tool call ``text`` asks for; :class:`ActionError` says what is wrong with it."""
    stripped = text.strip()
    fenced = _FENCE.fullmatch(stripped)
    if fenced:
        stripped = fenced.group(1)
    if stripped.startswith("{"):
        return _parse_json_action(stripped)
    answer = _ANSWER_LINE.fullmatch(stripped)
    if answer:
        value = answer.group(1).strip()
        if not value:
            raise ActionError("the answer is empty", "answer")
        return ToolCall("answer", {"value": value})
    if not stripped:
        raise ActionError(f"empty action; {_ACTION_HELP}")
    raise ActionError(f"not a tool call: {quote(stripped)}; {_ACTION_HELP}")


def _parse_json_action(text: str) -> ToolCall:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ActionError(f"malformed JSON ({e.msg} at position {e.pos}); {_ACTION_HELP}") from e
    except (ValueError, RecursionError) as e:  # too deep, or an integer with too many digits
        raise ActionError(f"malformed JSON ({type(e).__name__}); {_ACTION_HELP}") from e
    if not isinstance(data, dict):
        raise ActionError(f"the JSON must be an object; {_ACTION_HELP}")
    keys = set(data)
    if keys != {"tool", "args"}:
        missing, extra = sorted({"tool", "args"} - keys), sorted(keys - {"tool", "args"})
        problem = f"missing {missing}" if missing else f"unexpected keys {extra}"
        raise ActionError(f"the JSON object has {problem}; {_ACTION_HELP}")
    tool = data["tool"]
    if not isinstance(tool, str) or tool not in TOOL_NAMES:
        shown = quote(tool) if isinstance(tool, str) else type(tool).__name__
        raise ActionError(f"unknown tool {shown}; tools: {', '.join(TOOL_NAMES)}")
    return ToolCall(tool, validate_args(tool, data["args"]))


def validate_args(tool: str, args: Any) -> dict[str, str]:
    """``args`` checked against ``tool``'s schema (``answer``'s number becomes text)."""
    if not isinstance(args, dict):
        raise ActionError(f"args of {tool} must be a JSON object", tool)
    params = _PARAMETERS[tool]
    names = list(params["properties"])
    for name in names:
        if name not in args:
            raise ActionError(f"{tool} is missing argument {name!r}; arguments: {names}", tool)
    for name in args:
        if name not in params["properties"]:
            raise ActionError(f"{tool} has no argument {quote(name)}; arguments: {names}", tool)
    checked = {}
    for name in names:
        value = args[name]
        if tool == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = _number_text(value)
        if not isinstance(value, str):
            raise ActionError(
                f"argument {name!r} of {tool} must be a string, got {_json_type(value)}", tool
            )
        checked[name] = value
    return checked


def _number_text(value: int | float) -> str:
    try:
        return str(value) if isinstance(value, int) else repr(float(value))
    except ValueError:  # an int past Python's digit limit for str()
        return "nan"


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------- execution
def execute(world: World, call: ToolCall) -> ToolResult:
    """Run ``calculator``, ``lookup`` or ``search``; errors come back as results."""
    if call.tool == "calculator":
        expression = call.args["expression"]
        result = calculator(expression)
        canonical = ToolCall("calculator", {"expression": " ".join(expression.split())})
        return ToolResult(not result.startswith("error: "), result, canonical)
    if call.tool == "lookup":
        return _lookup(world, call.args["entity"], call.args["attribute"])
    if call.tool == "search":
        return _search(world, call.args["keyword"])
    raise ValueError(f"execute() runs calculator, lookup and search, not {call.tool!r}")


def _error(message: str, call: ToolCall) -> ToolResult:
    return ToolResult(False, f"error: {message}", call)


def _lookup(world: World, entity_name: str, attribute: str) -> ToolResult:
    attr = "_".join(attribute.strip().lower().replace("-", " ").split())
    entity = world.find(entity_name)
    call = ToolCall("lookup", {"entity": entity.name if entity else entity_name, "attribute": attr})
    if entity is None:
        close = difflib.get_close_matches(entity_name.strip(), world.names, n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return _error(f"unknown entity {quote(entity_name)}{hint}", call)
    own = KIND_ATTRIBUTES[entity.kind]
    if attr not in own:
        what = "unknown attribute" if attr not in ATTRIBUTE_NAMES else "no attribute"
        return _error(
            f"{what} {quote(attribute)} for {entity.name}, a {entity.kind}; a {entity.kind} "
            f"has: {', '.join(own)}",
            call,
        )
    value = format_value(attr, entity.attributes[attr])
    return ToolResult(True, f"{entity.name} {attr}: {value}", call)


def _search(world: World, keyword: str) -> ToolResult:
    key = " ".join(keyword.split())
    call = ToolCall("search", {"keyword": key})
    if not key:
        return _error("the keyword is empty", call)
    needle = key.casefold()
    found = []  # (rank, kind order, name, line): exact name, exact value, then substrings
    for entity in world.entities:
        field_name, value = "name", entity.name
        rank = _match_rank(needle, value, exact=0)
        for attr, attr_value in entity.attributes.items():
            attr_rank = _match_rank(needle, str(attr_value), exact=1)
            if isinstance(attr_value, int) and attr_rank == 2:
                continue  # numbers match whole: see the module docstring
            if attr_rank < rank:
                field_name, value, rank = attr, str(attr_value), attr_rank
        if rank < 3:
            order = (rank, KINDS.index(entity.kind), entity.name)
            found.append((order, f"{entity.name} ({entity.kind}): {field_name} = {value}"))
    if not found:
        return ToolResult(True, f"no matches for {quote(key)}", call)
    found.sort()
    lines = [line for _, line in found[:MAX_SEARCH_RESULTS]]
    head = f"{len(found)} match{'es' if len(found) != 1 else ''} for {quote(key)}:"
    more = len(found) - len(lines)
    tail = [f"({more} more not shown)"] if more else []
    return ToolResult(True, "\n".join([head, *lines, *tail]), call)


def _match_rank(needle: str, text: str, exact: int) -> int:
    """``exact`` for an exact match (0 for names, 1 for values), 2 a substring, 3 none."""
    folded = text.casefold()
    if folded == needle:
        return exact
    return 2 if needle in folded else 3
