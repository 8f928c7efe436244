"""The structured tool-use interface: token ids in, one discrete action out, every action a
text action of :class:`~envs.tooluse.text_env.ToolUseEnv` (``palaestra/ToolUseStructured-v0``).

Candidates. What an action may name comes from the transcript: *names* (world entities and
continents) in order of first appearance fill name slots ``1..MAX_NAMES``, *numbers* in
order of first appearance (repeats dropped) fill number slots ``1..MAX_NUMBERS``; attribute
names and calculator operators are fixed symbols.

Actions (:data:`ACTIONS`, ``Discrete(len(ACTIONS))``), in this order:

- ``lookup(name n, attribute a)`` for every name slot and attribute;
- ``search(name n)``;
- ``calculator("x op y")`` for every ordered pair of different number slots and ``op`` in
  ``+ - * /``: one operator per call, so a word problem with three numbers takes two calls
  (the second on the first's result), and ``min_calls`` in ``info`` counts them so;
- ``answer(number x)`` and ``answer(name n)``.

An action is allowed (``action_mask``) when its slots are filled, a lookup's name is a
world entity, and (``mask_repeated_calls``, the default) the same call was not made before
in the episode: the tools are deterministic, so a repeated call can only return what the
transcript already shows and cost a call. Without that rule a greedy policy that makes a
failing call once makes it again and again until the step limit (its observation barely
changes), which is how most failures of cloned and fine-tuned policies looked.
:meth:`StructuredToolUse.text_action` gives the one text action of each
structured action; the text env then runs it, so rewards, errors and ``info`` are the text
env's.

Tokens. The question and every turn after it (the system message is the same in every
episode and left out) are cut into tokens of the fixed :data:`VOCABULARY`: a name (an
entity or a continent) is one ``<name>`` token, told apart from other names by its slot, a
number is spelled digit by digit (with ``-`` and ``.``, so numbers can be compared), and
other words and symbols are looked up as they are (lower case), unknown ones as ``<unk>``.
Every message starts with a role token (``<user>``, ``<assistant>``, ``<tool:lookup>``...).
``token_slots`` tags each token of a name or number that holds a slot with that slot (names
``1..MAX_NAMES``, numbers ``MAX_NAMES + 1..``), so a network can point at candidates
(:class:`agents.common.transformer.TokenActionEncoder` reads exactly this layout). When
there are more than ``MAX_TOKENS`` tokens the question is kept and the oldest turns give way.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.tooluse.text_env import ToolUseEnv
from envs.tooluse.tools import parse_action
from envs.tooluse.transcript import numbers_in
from envs.tooluse.world import (
    ATTRIBUTE_NAMES,
    CONTINENTS,
    KINDS,
    ToolCall,
)

MAX_NAMES = 12
MAX_NUMBERS = 8
MAX_TOKENS = 128
OPERATORS = ("+", "-", "*", "/")

# ---------------------------------------------------------------------- vocabulary
SPECIAL_TOKENS = (
    "<pad>",
    "<unk>",
    "<user>",
    "<assistant>",
    "<system>",
    "<tool:calculator>",
    "<tool:lookup>",
    "<tool:search>",
    "<tool:answer>",
    "<tool:invalid>",
    "<name>",
)
DIGIT_TOKENS = (*"0123456789", "-", ".")
SYMBOL_TOKENS = ("?", ":", "=", "+", "*", "/", "(", ")", ",", "'", "$", "%")
# The words of the question templates, tool results and JSON actions (the vocabulary test
# checks that expert episodes of every task type need no <unk>).
WORDS = (
    "a", "after", "and", "answer", "are", "args", "at", "birth", "boxes", "books", "bring",
    "by", "capital", "cartons", "carries", "ceo", "city", "cm", "combined", "company",
    "correct", "country", "crates", "cut", "day", "days", "do", "does", "drained", "each",
    "eggs", "elevation", "employees", "employer", "entity", "error", "exceed", "expression",
    "farm", "for", "founded", "has", "have", "headquartered", "headquarters", "height",
    "higher", "holds", "home", "hour", "hours", "how", "in", "into", "is", "it", "its",
    "kg", "km", "km2", "keyword", "lamps", "larger", "left", "library", "litres", "long",
    "lookup", "m", "many", "match", "matches", "mayor", "million", "more", "much", "name",
    "no", "now", "of", "older", "on", "pack", "packs", "pays", "people", "per", "person",
    "pieces", "population", "profit", "receives", "rent", "revenue", "rope", "search",
    "sells", "shelves", "shop", "smaller", "tall", "taller", "tank", "that", "the", "they",
    "this", "to", "tool", "total", "train", "travels", "truck", "usd", "value", "was",
    "water", "weight", "what", "which", "who", "whose", "with", "workers", "wrong", "year",
    "years", "younger", "calculator", "born", "area", "continent", "lives", "works",
    "mayors", "run", "runs", "leads", "live", "earlier", "founding", "base", "based",
    "not", "shown", "unknown", "attribute", "argument", "missing", "did", "you", "mean",
    "be", "must", "string", "got", "an", "object", "tools", "json", "malformed", "empty",
    "action", "limit", "characters", "omitted", "messages", "than", "more", "first",
    "older", "newer", "new", "most", "least", "bigger", "greater", "largest", "or",
    "number", "work", "lower", "travel", "there", "where", "lies", "later", "carton",
    "shorter", "fewer", "less", "lowest", "smallest", "highest", "oldest", "youngest",
)  # fmt: skip
VOCABULARY: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *SPECIAL_TOKENS,
            *DIGIT_TOKENS,
            *SYMBOL_TOKENS,
            *ATTRIBUTE_NAMES,
            *KINDS,
            *WORDS,
        )
    )
)
TOKEN_IDS = {token: i for i, token in enumerate(VOCABULARY)}
PAD, UNK, NAME = TOKEN_IDS["<pad>"], TOKEN_IDS["<unk>"], TOKEN_IDS["<name>"]

# Words, numbers (commas allowed), and single symbols other than JSON punctuation.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?[0-9][0-9,]*(?:\.[0-9]+)?|[^\sA-Za-z0-9\"{}\[\]]")

# ---------------------------------------------------------------------- actions
LOOKUP, SEARCH, CALCULATOR, ANSWER_NUMBER, ANSWER_NAME = range(5)
KIND_NAMES = ("lookup", "search", "calculator", "answer_number", "answer_name")


@dataclass(frozen=True)
class StructuredAction:
    """One action: its kind, the name / number slots it uses (1-based, 0 unused) and its
    symbol (an attribute name or an operator, "" unused)."""

    kind: int
    first: int = 0
    second: int = 0
    symbol: str = ""


def _action_list() -> tuple[StructuredAction, ...]:
    names, numbers = range(1, MAX_NAMES + 1), range(1, MAX_NUMBERS + 1)
    return (
        *(StructuredAction(LOOKUP, n, 0, a) for n in names for a in ATTRIBUTE_NAMES),
        *(StructuredAction(SEARCH, n) for n in names),
        *(
            StructuredAction(CALCULATOR, x, y, op)
            for op in OPERATORS
            for x in numbers
            for y in numbers
            if x != y
        ),
        *(StructuredAction(ANSWER_NUMBER, x) for x in numbers),
        *(StructuredAction(ANSWER_NAME, n) for n in names),
    )


ACTIONS = _action_list()
ACTION_INDEX = {action: i for i, action in enumerate(ACTIONS)}


def _slot_id(action: StructuredAction, which: int) -> int:
    """The token-slot id of the action's first (1) or second (2) slot: names are
    ``1..MAX_NAMES``, numbers follow."""
    slot = action.first if which == 1 else action.second
    if slot == 0:
        return 0
    uses_numbers = action.kind in (CALCULATOR, ANSWER_NUMBER)
    return slot + MAX_NAMES if uses_numbers else slot


_KINDS = np.array([a.kind for a in ACTIONS])
_FIRST = np.array([a.first for a in ACTIONS])
_SECOND = np.array([a.second for a in ACTIONS])
_TOOL_KINDS = (LOOKUP, SEARCH, CALCULATOR)  # the kinds that are tool calls (not answers)
ACTION_ARGS = np.array(
    [
        [a.kind, _slot_id(a, 1), _slot_id(a, 2), TOKEN_IDS[a.symbol] if a.symbol else 0]
        for a in ACTIONS
    ],
    dtype=np.int64,
)
"""(kind, first token slot, second token slot, symbol token id) per action."""


# ---------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidates:
    """The names and numbers the transcript offers, in slot order (slot = index + 1)."""

    names: tuple[str, ...]
    numbers: tuple[int | Fraction, ...]
    entity_names: frozenset[str]


def format_number(value: int | Fraction) -> str:
    """A number as a text action writes it: an int as digits, a fraction as a decimal."""
    if isinstance(value, int) or value.denominator == 1:
        return str(int(value))
    return repr(float(value))


class StructuredToolUse(gym.Wrapper):
    """``ToolUseEnv`` behind token observations and one discrete action (see the module
    docstring).

    ## Observation Space
    ``Dict``: ``tokens`` ``(MAX_TOKENS,)`` int64 ids of :data:`VOCABULARY` (0 padding),
    ``token_slots`` ``(MAX_TOKENS,)`` the slot of each token (0 none), ``action_args``
    ``(A, 4)`` the constant :data:`ACTION_ARGS` table, ``action_mask`` ``MultiBinary(A)``.

    ## Action Space
    ``Discrete(A)``, ``A = len(ACTIONS)``; :meth:`text_action` maps an index to its text
    action. A masked action raises ValueError naming it (its slot is empty: there is no
    text action to send; or it repeats a call of this episode).

    ## Arguments
    - ``mask_repeated_calls`` (True): mask tool calls already made in the episode (see the
      module docstring). The one exception to "a repeat only wastes a call" is a
      transcript longer than ``MAX_TOKENS`` whose oldest results gave way; by then the
      episode has long been wasteful.

    Everything else (rewards, episode end, ``info``) is the text env's, except ``min_calls``,
    which counts one calculator call per operator.
    """

    def __init__(self, env: gym.Env, mask_repeated_calls: bool = True) -> None:
        super().__init__(env)
        if not isinstance(env.unwrapped, ToolUseEnv):
            raise TypeError(f"StructuredToolUse wraps a ToolUseEnv, got {env.unwrapped}")
        n = len(ACTIONS)
        self.observation_space = spaces.Dict(
            {
                "tokens": spaces.Box(0, len(VOCABULARY) - 1, (MAX_TOKENS,), np.int64),
                "token_slots": spaces.Box(0, MAX_NAMES + MAX_NUMBERS, (MAX_TOKENS,), np.int64),
                "action_args": spaces.Box(ACTION_ARGS, ACTION_ARGS, ACTION_ARGS.shape, np.int64),
                "action_mask": spaces.MultiBinary(n),
            }
        )
        self.action_space = spaces.Discrete(n)
        self._candidates = Candidates((), (), frozenset())
        self.mask_repeated_calls = bool(mask_repeated_calls)
        self._called = np.zeros(n, dtype=bool)  # tool calls made this episode
        self._extra_calls = 0
        self._tokenized = 0  # messages of the episode tokenised so far

    @property
    def text_env(self) -> ToolUseEnv:
        return self.env.unwrapped  # type: ignore[return-value]

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        self._tokenized = 0
        self._called[:] = False
        self._extra_calls = sum(_operators(c) - 1 for c in self.text_env.task.plan if _is_calc(c))
        return self._observe(), self._info(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        text = self.text_action(action)
        index = int(action)
        if self.mask_repeated_calls:
            if self._called[index]:
                raise ValueError(
                    f"action {index} ({describe(ACTIONS[index])}) repeats a call made earlier "
                    "in this episode; its result is in the transcript (see action_mask)"
                )
            self._called[index] = ACTIONS[index].kind in _TOOL_KINDS
        _, reward, terminated, truncated, info = self.env.step(text)
        return self._observe(), float(reward), terminated, truncated, self._info(info)

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {**info, "min_calls": info["min_calls"] + self._extra_calls}

    # ------------------------------------------------------------------ actions
    def text_action(self, action: Any) -> str:
        """The text action of structured action ``action`` in the current state."""
        index = _action_index(action, len(ACTIONS))
        spec = ACTIONS[index]
        names, numbers = self._candidates.names, self._candidates.numbers
        first_pool = numbers if spec.kind in (CALCULATOR, ANSWER_NUMBER) else names
        if spec.first > len(first_pool) or spec.second > len(numbers):
            raise ValueError(
                f"action {index} ({describe(spec)}) names an empty slot: the transcript "
                f"offers {len(names)} names and {len(numbers)} numbers (see action_mask)"
            )
        if spec.kind == LOOKUP:
            call = ToolCall("lookup", {"entity": names[spec.first - 1], "attribute": spec.symbol})
        elif spec.kind == SEARCH:
            call = ToolCall("search", {"keyword": names[spec.first - 1]})
        elif spec.kind == CALCULATOR:
            x, y = (format_number(numbers[s - 1]) for s in (spec.first, spec.second))
            call = ToolCall("calculator", {"expression": f"{x} {spec.symbol} {y}"})
        elif spec.kind == ANSWER_NUMBER:
            call = ToolCall("answer", {"value": format_number(numbers[spec.first - 1])})
        else:
            call = ToolCall("answer", {"value": names[spec.first - 1]})
        return call.to_action()

    def action_mask(self) -> np.ndarray:
        """Actions whose slots are filled (lookups: only on world entities), less the tool
        calls already made (with ``mask_repeated_calls``)."""
        cand = self._candidates
        n_names, n_numbers = len(cand.names), len(cand.numbers)
        is_entity = np.array([False, *(n in cand.entity_names for n in cand.names)])
        on_numbers = np.isin(_KINDS, (CALCULATOR, ANSWER_NUMBER))
        filled = np.where(
            on_numbers,
            (n_numbers >= _FIRST) & (n_numbers >= _SECOND),
            n_names >= _FIRST,
        )
        lookup_ok = is_entity[np.minimum(_FIRST, n_names)] | (_KINDS != LOOKUP)
        return (filled & lookup_ok & ~self._called).astype(np.int8)

    def expert_action(self) -> int:
        """The structured action of the generator's plan: the text env's next step, with a
        calculator expression split into one-operator calls (left to right; every template
        is written so that this order is the right one)."""
        call = _parse_call(self.text_env.expert_action())
        if call.tool == "calculator":
            step = self._next_calculation(call.args["expression"])
            if step is not None:
                return step
            call = self.text_env.task.plan[-1]  # every partial result is known: answer
        return self._index_of(call)

    def _next_calculation(self, expression: str) -> int | None:
        terms = expression.split()
        value = Fraction(terms[0])
        seen = set(self._candidates.numbers)
        for i in range(1, len(terms), 2):
            op, operand = terms[i], Fraction(terms[i + 1])
            result = _apply(value, op, operand)
            if result not in seen:
                expression = f"{format_number(value)} {op} {format_number(operand)}"
                return self._index_of(ToolCall("calculator", {"expression": expression}))
            value = result
        return None

    def _index_of(self, call: ToolCall) -> int:
        cand = self._candidates
        if call.tool in ("lookup", "search"):
            key = "entity" if call.tool == "lookup" else "keyword"
            slot = _slot_of(cand.names, call.args[key], "name")
            kind = LOOKUP if call.tool == "lookup" else SEARCH
            return ACTION_INDEX[StructuredAction(kind, slot, 0, call.args.get("attribute", ""))]
        if call.tool == "calculator":
            x, op, y = call.args["expression"].split()
            first = _slot_of(cand.numbers, Fraction(x), "number")
            second = _slot_of(cand.numbers, Fraction(y), "number")
            return ACTION_INDEX[StructuredAction(CALCULATOR, first, second, op)]
        value = call.args["value"]
        number = numbers_in(value)
        if number and format_number(number[0]) == value:
            slot = _slot_of(cand.numbers, number[0], "number")
            return ACTION_INDEX[StructuredAction(ANSWER_NUMBER, slot)]
        return ACTION_INDEX[StructuredAction(ANSWER_NAME, _slot_of(cand.names, value, "name"))]

    # ------------------------------------------------------------------ observations
    def _observe(self) -> dict[str, np.ndarray]:
        """Tokenise the messages added since the last call (messages only ever grow within
        an episode, and slots are given in order of first appearance, so earlier tokens
        and slots never change)."""
        env = self.text_env
        if self._tokenized == 0:
            self._start_episode(env)
        messages = env.messages
        for message in messages[max(self._tokenized, 1) :]:  # the system message is skipped
            self._message_tokens.append(self._tokenize(message))
        self._tokenized = len(messages)
        self._candidates = Candidates(
            tuple(self._display[k] for k in self._name_slots)[:MAX_NAMES],
            tuple(self._number_slots)[:MAX_NUMBERS],
            self._entity_names,
        )
        kept = _fit(self._message_tokens, MAX_TOKENS)
        tokens = np.zeros(MAX_TOKENS, np.int64)
        slots = np.zeros(MAX_TOKENS, np.int64)
        if kept:
            ids, tags = zip(*kept, strict=True)
            tokens[: len(kept)] = ids
            slots[: len(kept)] = tags
        return {
            "tokens": tokens,
            "token_slots": slots,
            "action_args": ACTION_ARGS.copy(),
            "action_mask": self.action_mask(),
        }

    def _start_episode(self, env: ToolUseEnv) -> None:
        self._message_tokens: list[list[tuple[int, int]]] = []
        self._name_slots: dict[str, int] = {}  # casefolded name -> slot, first seen first
        self._number_slots: dict[int | Fraction, int] = {}
        # casefolded name -> its spelling in the world
        self._display: dict[str, str] = {e.name.casefold(): e.name for e in env.world.entities}
        self._display.update({c.casefold(): c for c in CONTINENTS})
        self._entity_names = frozenset(env.world.names)

    def _tokenize(self, message: dict[str, str]) -> list[tuple[int, int]]:
        """One message's (token id, slot) pairs; new names and numbers take new slots."""
        role = message["role"]
        head = f"<tool:{message.get('name', '')}>" if role == "tool" else f"<{role}>"
        out = [(TOKEN_IDS.get(head, TOKEN_IDS["<tool:invalid>"]), 0)]
        for chunk, is_name in _split_names(message["content"], self._display):
            if is_name:
                out.append((NAME, self._name_slot(chunk.casefold())))
                continue
            for word in _WORD.findall(chunk):
                out += self._word_tokens(word)
        return out

    def _name_slot(self, key: str) -> int:
        if key not in self._name_slots:
            self._name_slots[key] = len(self._name_slots) + 1
        slot = self._name_slots[key]
        return slot if slot <= MAX_NAMES else 0

    def _word_tokens(self, word: str) -> list[tuple[int, int]]:
        if word[0].isdigit() or (word[0] == "-" and len(word) > 1):
            values = numbers_in(word)
            slot = 0
            if values:
                value = values[0]
                if value not in self._number_slots:
                    self._number_slots[value] = len(self._number_slots) + 1
                slot = self._number_slots[value]
                slot = MAX_NAMES + slot if slot <= MAX_NUMBERS else 0
            return [(TOKEN_IDS[c], slot) for c in word if c in TOKEN_IDS and c != ","]
        return [(TOKEN_IDS.get(word.lower(), UNK), 0)]


def describe(action: StructuredAction) -> str:
    """A readable form of an action, e.g. ``lookup(name 2, population)``."""
    kind = KIND_NAMES[action.kind]
    if action.kind == LOOKUP:
        return f"lookup(name {action.first}, {action.symbol})"
    if action.kind == CALCULATOR:
        return f"calculator(number {action.first} {action.symbol} number {action.second})"
    what = "number" if action.kind == ANSWER_NUMBER else "name"
    return f"{kind.split('_')[0]}({what} {action.first})"


def make_structured_env(mask_repeated_calls: bool = True, **kwargs: Any) -> StructuredToolUse:
    """The registered ``palaestra/ToolUseStructured-v0``: a ToolUseEnv made with ``kwargs``
    (see its Arguments), wrapped (``mask_repeated_calls``: see :class:`StructuredToolUse`)."""
    return StructuredToolUse(ToolUseEnv(**kwargs), mask_repeated_calls)


# ---------------------------------------------------------------------- helpers
def _action_index(action: Any, n: int) -> int:
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(f"structured actions are ints in [0, {n}), got {action!r}")
    if not 0 <= int(action) < n:
        raise ValueError(f"action {int(action)} is outside [0, {n})")
    return int(action)


def _is_calc(call: ToolCall) -> bool:
    return call.tool == "calculator"


def _operators(call: ToolCall) -> int:
    return len(call.args["expression"].split()) // 2


def _apply(x: Fraction, op: str, y: Fraction) -> Fraction:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return x / y
    raise ValueError(f"plan expressions use + - * /, got {op!r}")


def _parse_call(action: str) -> ToolCall:
    return parse_action(action)


def _slot_of(pool: tuple[Any, ...], value: Any, what: str) -> int:
    folded = value.casefold() if isinstance(value, str) else value
    for i, item in enumerate(pool):
        if (item.casefold() if isinstance(item, str) else item) == folded:
            return i + 1
    raise ValueError(
        f"the expert's {what} {value!r} holds no slot (slots: {list(pool)}); "
        f"raise MAX_NAMES / MAX_NUMBERS"
    )


_CAPITALISED_RUN = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*")


def _split_names(text: str, names: Container[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (chunk, is a name) pieces. Names are capitalised words (as the
    world spells them); within a run of capitalised words the longest known name from
    each position wins, so "Momo Kasel" is one name even where "Momo" is another."""
    out, last = [], 0
    for run in _CAPITALISED_RUN.finditer(text):
        words = run.group(0).split(" ")
        offsets = [run.start()]
        for word in words[:-1]:
            offsets.append(offsets[-1] + len(word) + 1)
        i = 0
        while i < len(words):
            for j in range(len(words), i, -1):
                candidate = " ".join(words[i:j])
                if candidate.casefold() in names:
                    start = offsets[i]
                    if start > last:
                        out.append((text[last:start], False))
                    out.append((candidate, True))
                    last = start + len(candidate)
                    i = j
                    break
            else:
                i += 1
    if last < len(text):
        out.append((text[last:], False))
    return out


def _fit(messages: list[list[tuple[int, int]]], limit: int) -> list[tuple[int, int]]:
    """The question's tokens and the newest turns' that fit in ``limit``."""
    if not messages:
        return []
    question, turns = messages[0][:limit], messages[1:]
    room = limit - len(question)
    kept: list[list[tuple[int, int]]] = []
    for message in reversed(turns):
        if len(message) > room:
            if room > 0:
                kept.append(message[-room:])
            break
        kept.append(message)
        room -= len(message)
    return [token for message in [question, *reversed(kept)] for token in message]
