"""The generated world, the task generator and the generator's own solution plan.

Every episode is drawn from one ``numpy.random.Generator``: a small fictional world of
countries, cities, people and companies (:class:`World` of :class:`Entity`), a question
about it (:class:`Task`) with its answer and the tool calls that answer it (``plan``, a
tuple of :class:`ToolCall` ending with the ``answer`` call).

Entities and attributes (a fixed global list, :data:`ATTRIBUTE_NAMES`; see
:data:`ATTRIBUTES` for each one's unit and the kind of entity it points to):

- country: ``capital`` (city), ``population`` (people), ``area`` (km2), ``continent``;
- city: ``country``, ``population`` (people), ``founded`` (year), ``mayor`` (person),
  ``elevation`` (m);
- person: ``born`` (year), ``home_city`` (city), ``employer`` (company), ``height`` (cm);
- company: ``headquarters`` (city), ``ceo`` (person), ``employees``, ``revenue``
  (million USD), ``founded`` (year).

Numbers are integers; their unit is the attribute's. The world is consistent: a capital's
``country`` is the country it is the capital of, a mayor lives in their city, a CEO works
for their company, every city hosts at most one company's headquarters, nobody is the
mayor of two cities or the CEO of two companies.

Names are made of the syllables in :data:`SYLLABLES` (and company suffixes
:data:`COMPANY_SUFFIXES`); :attr:`Entity.pieces` keeps the pieces of each name, so a
structured interface can spell any name with the fixed :data:`NAME_VOCABULARY`. Names are
unique per episode and none is a substring of another (so a search for a full name never
matches a different entity by accident).

Task types (:data:`TASK_TYPES`), with the calls of their plan before the answer:

- ``arithmetic``: a word problem with numbers and units; ``calculator``.
- ``lookup``: one attribute of one entity; ``lookup``.
- ``two_hop``: "the population of the capital of X"; ``lookup``, ``lookup``.
- ``lookup_arithmetic``: sum or difference of two entities' attributes; ``lookup``,
  ``lookup``, ``calculator``.
- ``comparison``: "which has the larger population, A or B?" (the answer is a name);
  ``lookup``, ``lookup``.
- ``search``: "the revenue of the company headquartered in C" (a reverse lookup);
  ``search``, ``lookup``.

``min_calls`` (the plan's calls, answer excluded) is the fewest calls that find the facts;
an agent that does the arithmetic itself can skip the ``calculator`` call.

Distractors: every world holds look-alikes of the entities the question names: entities of
the same kind whose name shares the first syllable (people: the family name) and whose
numbers lie close to the named entity's (of another kind, alike in name only, once the world
has no more of that kind). ``n_distractors`` of them (more at higher difficulty), in a world
that also grows with the difficulty.

Answers: :meth:`Task.is_correct`. A number matches when
``|given - answer| <= NUMERIC_ATOL + NUMERIC_RTOL * |answer|`` (1e-6 + 1e-4 |answer|);
given as text it may carry thousands commas, a leading sign or ``$``, a trailing unit and a
final full stop ("1,234,567 people", "$5300"), nothing else. A name or continent matches
case-insensitively, ignoring surrounding whitespace, quotes and a final full stop. All task
arithmetic is exact (integers; divisions come out whole).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

KINDS = ("country", "city", "company", "person")  # also the order of search results

TASK_TYPES = ("arithmetic", "lookup", "two_hop", "lookup_arithmetic", "comparison", "search")
# Task types each difficulty draws from (uniformly), and its world size and distractors.
DIFFICULTY_TASK_TYPES: dict[int, tuple[str, ...]] = {
    0: ("arithmetic", "lookup"),
    1: ("arithmetic", "lookup", "two_hop", "comparison"),
    2: TASK_TYPES,
    3: TASK_TYPES,
}
DIFFICULTIES = tuple(DIFFICULTY_TASK_TYPES)
WORLD_SIZES: dict[int, dict[str, int]] = {
    0: {"country": 2, "city": 5, "company": 4, "person": 10},
    1: {"country": 3, "city": 7, "company": 5, "person": 14},
    2: {"country": 4, "city": 9, "company": 6, "person": 18},
    3: {"country": 5, "city": 12, "company": 8, "person": 24},
}
DEFAULT_DISTRACTORS = {0: 1, 1: 2, 2: 4, 3: 6}
MAX_DISTRACTORS = 8  # even the smallest world has this many entities outside any task
MAX_QUESTION_CHARS = 400

NUMERIC_ATOL = 1e-6
NUMERIC_RTOL = 1e-4

SYLLABLES = (
    "ba", "bel", "bri", "cor", "da", "dor", "dra", "el", "fa", "fen", "gal", "ha", "ir",
    "ka", "kel", "la", "lin", "ma", "mar", "mo", "na", "nor", "ol", "pa", "per", "qua",
    "ra", "rin", "sa", "sel", "ta", "tis", "tor", "ul", "va", "ven", "wen", "ya", "zan",
    "zo",
)  # fmt: skip
COMPANY_SUFFIXES = ("corp", "works", "labs", "group", "trading")
NAME_SPACE = " "
NAME_VOCABULARY = (*SYLLABLES, *COMPANY_SUFFIXES, NAME_SPACE)
CONTINENTS = ("Aurelia", "Borealis", "Cindria", "Meridia", "Westmark")


@dataclass(frozen=True)
class Attribute:
    """One attribute: ``value_type`` is ``"number"`` (an int in ``unit``; ``""`` for years),
    ``"entity"`` (the name of a ``target`` entity) or ``"text"`` (a continent)."""

    name: str
    value_type: str
    unit: str = ""
    target: str = ""
    noun: str = ""  # how a question names it


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute("area", "number", "km2", noun="area in km2"),
        Attribute("born", "number", noun="birth year"),
        Attribute("capital", "entity", target="city", noun="capital"),
        Attribute("ceo", "entity", target="person", noun="CEO"),
        Attribute("continent", "text", noun="continent"),
        Attribute("country", "entity", target="country", noun="country"),
        Attribute("elevation", "number", "m", noun="elevation in m"),
        Attribute("employees", "number", "employees", noun="number of employees"),
        Attribute("employer", "entity", target="company", noun="employer"),
        Attribute("founded", "number", noun="founding year"),
        Attribute("headquarters", "entity", target="city", noun="headquarters"),
        Attribute("height", "number", "cm", noun="height in cm"),
        Attribute("home_city", "entity", target="city", noun="home city"),
        Attribute("mayor", "entity", target="person", noun="mayor"),
        Attribute("population", "number", "people", noun="population"),
        Attribute("revenue", "number", "million USD", noun="revenue in million USD"),
    )
}
ATTRIBUTE_NAMES = tuple(sorted(ATTRIBUTES))
KIND_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "country": ("capital", "population", "area", "continent"),
    "city": ("country", "population", "founded", "mayor", "elevation"),
    "company": ("headquarters", "ceo", "employees", "revenue", "founded"),
    "person": ("born", "home_city", "employer", "height"),
}
YEAR_ATTRIBUTES = ("born", "founded")
ADDITIVE_ATTRIBUTES = ("population", "area", "employees", "revenue")

Value = int | str


# ---------------------------------------------------------------------- public records
@dataclass(frozen=True)
class Entity:
    """A named thing of the world; ``attributes`` maps each of its kind's attributes to an
    int (unit: :data:`ATTRIBUTES`), an entity name or a continent."""

    name: str
    kind: str
    pieces: tuple[str, ...]  # lower-case pieces of NAME_VOCABULARY; see name_from_pieces
    attributes: Mapping[str, Value]


@dataclass(frozen=True)
class World:
    """The episode's entities, in generation order, with case-insensitive name lookup."""

    entities: tuple[Entity, ...]
    _index: dict[str, Entity] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {_name_key(e.name): e for e in self.entities})

    def find(self, name: str) -> Entity | None:
        """The entity called ``name`` (any case, extra whitespace ignored), or None."""
        return self._index.get(_name_key(name))

    def __getitem__(self, name: str) -> Entity:
        entity = self.find(name)
        if entity is None:
            raise KeyError(name)
        return entity

    def of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities if e.kind == kind]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)


@dataclass(frozen=True)
class ToolCall:
    """One call: a tool name and its arguments (``answer``'s ``value`` is text)."""

    tool: str
    args: Mapping[str, str]

    def to_action(self) -> str:
        """The env's text action for this call: ``{"tool": ..., "args": {...}}``."""
        return json.dumps({"tool": self.tool, "args": dict(self.args)})


@dataclass(frozen=True)
class Task:
    """A question, its answer and the generator's plan (tool calls ending with ``answer``).

    ``answer`` is an int (in ``unit``: ``"kg"``, ``"people"``, ``"years"`` for a span of
    years...; ``""`` for a year itself) or a name (``unit`` ``""``); ``entities`` are the
    names the question mentions, then those the plan reaches; ``numbers`` the numbers a word
    problem states (empty for the other task types).
    """

    task_type: str
    question: str
    answer: Value
    unit: str
    plan: tuple[ToolCall, ...]
    entities: tuple[str, ...]
    numbers: tuple[int, ...] = ()

    @property
    def min_calls(self) -> int:
        """Tool calls of the plan, the answer excluded."""
        return len(self.plan) - 1

    def is_correct(self, value: Any) -> bool:
        """Whether ``value`` (text, or an int or float for a number) answers the task."""
        return answers_match(value, self.answer)


@dataclass(frozen=True)
class Episode:
    """What one reset draws: the world, the task and the distractors' names."""

    world: World
    task: Task
    distractors: tuple[str, ...]


# ---------------------------------------------------------------------- answers
_NUMBER_TEXT = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_ANSWER_NUMBER = re.compile(
    rf"\s*([-+]?)\s*\$?\s*({_NUMBER_TEXT})\s*(?:[A-Za-z][A-Za-z0-9 ]*)?\.?\s*", re.ASCII
)


def parse_number(text: str) -> Fraction | None:
    """The number a text answer states ("1,234 people", "$12", "-3.5"), or None."""
    match = _ANSWER_NUMBER.fullmatch(text)
    if match is None:
        return None
    value = Fraction(match.group(2).replace(",", ""))
    return -value if match.group(1) == "-" else value


def _normalise_name(text: str) -> str:
    text = " ".join(text.split()).rstrip(".").strip("\"'` ").rstrip(".").strip()
    return text.casefold()


def answers_match(given: Any, expected: Value) -> bool:
    """Whether ``given`` matches ``expected`` (see the module docstring for the rules)."""
    if isinstance(expected, str):
        return isinstance(given, str) and _normalise_name(given) == _normalise_name(expected)
    if isinstance(given, bool):
        return False
    if isinstance(given, str):
        number: Fraction | float | None = parse_number(given)
    elif isinstance(given, (int, float)):
        number = given
    else:
        return False
    if number is None:
        return False
    try:
        return abs(float(number) - expected) <= NUMERIC_ATOL + NUMERIC_RTOL * abs(expected)
    except (OverflowError, ValueError):
        return False


def format_value(attribute: str, value: Value) -> str:
    """A value as the lookup tool writes it: the number and its unit, or the name."""
    unit = ATTRIBUTES[attribute].unit
    return f"{value} {unit}" if unit and isinstance(value, int) else str(value)


def name_from_pieces(pieces: Sequence[str]) -> str:
    """The name spelled by ``pieces`` (each word capitalised)."""
    return " ".join(word.capitalize() for word in "".join(pieces).split(NAME_SPACE))


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


# ---------------------------------------------------------------------- generation
@dataclass
class _Node:
    """An entity before it has a name: numbers and texts in ``values``, references (node
    ids) in ``refs``."""

    kind: str
    values: dict[str, Value] = field(default_factory=dict)
    refs: dict[str, int] = field(default_factory=dict)


@dataclass
class _Draft:
    """A task chosen on the unnamed structure; ``build`` writes it once names exist."""

    task_type: str
    subjects: list[int]  # nodes the question names (distractors mimic these)
    involved: list[int]  # every node the task reads (never perturbed)
    build: Callable[[Callable[[int], str]], Task]


def generate_episode(
    rng: np.random.Generator,
    task_type: str,
    difficulty: int,
    n_distractors: int,
) -> Episode:
    """Draw a world, a task of ``task_type`` and ``n_distractors`` look-alikes from ``rng``."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task_type {task_type!r}; valid: {', '.join(TASK_TYPES)}")
    nodes = _build_structure(rng, WORLD_SIZES[difficulty])
    draft = _PICKERS[task_type](rng, nodes, difficulty)
    look_alikes = _choose_distractors(rng, nodes, draft, n_distractors)
    for node_id, model in look_alikes.items():
        _perturb(rng, nodes[node_id], nodes[model])
    pieces = _assign_names(rng, nodes, draft, look_alikes)
    names = [name_from_pieces(p) for p in pieces]
    world = World(tuple(_entity(node, names[i], pieces[i], names) for i, node in enumerate(nodes)))
    task = draft.build(names.__getitem__)
    return Episode(world, task, tuple(names[i] for i in look_alikes))


def _entity(node: _Node, name: str, pieces: tuple[str, ...], names: list[str]) -> Entity:
    values = dict(node.values)
    values.update({attr: names[target] for attr, target in node.refs.items()})
    ordered = {attr: values[attr] for attr in KIND_ATTRIBUTES[node.kind]}
    return Entity(name, node.kind, pieces, ordered)


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> int:
    return round(10 ** rng.uniform(np.log10(low), np.log10(high)))


def _build_structure(rng: np.random.Generator, sizes: Mapping[str, int]) -> list[_Node]:
    nodes: list[_Node] = []
    ids: dict[str, list[int]] = {}
    for kind in KINDS:
        ids[kind] = list(range(len(nodes), len(nodes) + sizes[kind]))
        nodes.extend(_Node(kind) for _ in range(sizes[kind]))
    countries, cities, companies, people = (ids[k] for k in KINDS)

    for i, city in enumerate(cities):  # the first cities are the capitals
        country = countries[i] if i < len(countries) else _pick(rng, countries)
        nodes[city].refs["country"] = country
        if i < len(countries):
            nodes[country].refs["capital"] = city
        nodes[city].values["population"] = _log_uniform(rng, 5_000, 2_500_000)
        nodes[city].values["founded"] = int(rng.integers(800, 1991))
        nodes[city].values["elevation"] = int(rng.integers(0, 2801))

    order = [int(p) for p in rng.permutation(people)]
    mayors, ceos = order[: len(cities)], order[len(cities) : len(cities) + len(companies)]
    hosts = [int(c) for c in rng.permutation(cities)[: len(companies)]]
    for person in people:
        nodes[person].values["born"] = int(rng.integers(1940, 2005))
        nodes[person].values["height"] = int(rng.integers(150, 206))
        nodes[person].refs["home_city"] = _pick(rng, cities)
        nodes[person].refs["employer"] = _pick(rng, companies)
    for city, mayor in zip(cities, mayors, strict=True):
        nodes[city].refs["mayor"] = mayor
        nodes[mayor].refs["home_city"] = city
    for company, ceo, host in zip(companies, ceos, hosts, strict=True):
        nodes[company].refs["ceo"] = ceo
        nodes[ceo].refs["employer"] = company
        nodes[company].refs["headquarters"] = host
        nodes[company].values["employees"] = _log_uniform(rng, 20, 300_000)
        nodes[company].values["revenue"] = _log_uniform(rng, 1, 90_000)
        nodes[company].values["founded"] = int(rng.integers(1850, 2023))

    for country in countries:
        in_country = [c for c in cities if nodes[c].refs["country"] == country]
        city_total = sum(int(nodes[c].values["population"]) for c in in_country)
        nodes[country].values["population"] = city_total + _log_uniform(rng, 100_000, 20_000_000)
        nodes[country].values["area"] = _log_uniform(rng, 2_000, 2_500_000)
        nodes[country].values["continent"] = _pick(rng, CONTINENTS)
    return nodes


def _value(nodes: list[_Node], node: int, attr: str, name_of: Callable[[int], str]) -> Value:
    ref = nodes[node].refs.get(attr)
    return name_of(ref) if ref is not None else nodes[node].values[attr]


def _follow(nodes: list[_Node], node: int, attr: str) -> int:
    return nodes[node].refs[attr]


def _ids_of(nodes: list[_Node], kind: str) -> list[int]:
    return [i for i, n in enumerate(nodes) if n.kind == kind]


def _lookup_call(entity: str, attr: str) -> ToolCall:
    return ToolCall("lookup", {"entity": entity, "attribute": attr})


def _answer_call(value: Value) -> ToolCall:
    return ToolCall("answer", {"value": str(value)})


# ---------------------------------------------------------------------- question text
_ENTITY_QUESTIONS = {
    "capital": "What is the capital of {s}?",
    "country": "Which country is {s} in?",
    "mayor": "Who is the mayor of {s}?",
    "home_city": "What is the home city of {s}?",
    "employer": "Which company does {s} work for?",
    "headquarters": "In which city is {s} headquartered?",
    "ceo": "Who is the CEO of {s}?",
    "continent": "On which continent is {s}?",
    "born": "In which year was {s} born?",
    "founded": "In which year was {s} founded?",
}
_REF_PHRASES = {
    "capital": "the capital of {x}",
    "country": "the country that {x} is in",
    "mayor": "the mayor of {x}",
    "home_city": "the home city of {x}",
    "employer": "the company that {x} works for",
    "headquarters": "the city where {x} is headquartered",
    "ceo": "the CEO of {x}",
}
# (kind asked about, its attribute pointing at the keyword entity) -> phrase
_REVERSE_PHRASES = {
    ("company", "headquarters"): "the company headquartered in {x}",
    ("city", "mayor"): "the city whose mayor is {x}",
    ("country", "capital"): "the country whose capital is {x}",
}
# attribute -> (question asking for the larger value, for the smaller one)
_COMPARISONS = {
    "population": (
        "Which {k} has the larger population, {a} or {b}?",
        "Which {k} has the smaller population, {a} or {b}?",
    ),
    "area": (
        "Which country is larger by area, {a} or {b}?",
        "Which country is smaller by area, {a} or {b}?",
    ),
    "founded": (
        "Which {k} was founded later, {a} or {b}?",
        "Which {k} was founded earlier, {a} or {b}?",
    ),
    "elevation": ("Which city lies higher, {a} or {b}?", "Which city lies lower, {a} or {b}?"),
    "born": ("Who was born later, {a} or {b}?", "Who was born earlier, {a} or {b}?"),
    "height": ("Who is taller, {a} or {b}?", "Who is shorter, {a} or {b}?"),
    "employees": (
        "Which company has more employees, {a} or {b}?",
        "Which company has fewer employees, {a} or {b}?",
    ),
    "revenue": (
        "Which company has the higher revenue, {a} or {b}?",
        "Which company has the lower revenue, {a} or {b}?",
    ),
}


def ask(attr: str, subject: str) -> str:
    """The question asking for ``attr`` of ``subject`` (a name or a phrase)."""
    template = _ENTITY_QUESTIONS.get(attr, "What is the {noun} of {s}?")
    return template.format(s=subject, noun=ATTRIBUTES[attr].noun)


def _numeric_attributes(kind: str) -> list[str]:
    return [a for a in KIND_ATTRIBUTES[kind] if ATTRIBUTES[a].value_type == "number"]


def _answer_unit(attr: str) -> str:
    return ATTRIBUTES[attr].unit if ATTRIBUTES[attr].value_type == "number" else ""


# ---------------------------------------------------------------------- task pickers
def _pick_lookup(rng: np.random.Generator, nodes: list[_Node], difficulty: int) -> _Draft:
    node = int(rng.integers(len(nodes)))
    attr = _pick(rng, KIND_ATTRIBUTES[nodes[node].kind])

    def build(name_of: Callable[[int], str]) -> Task:
        name = name_of(node)
        answer = _value(nodes, node, attr, name_of)
        plan = (_lookup_call(name, attr), _answer_call(answer))
        return Task("lookup", ask(attr, name), answer, _answer_unit(attr), plan, (name,))

    return _Draft("lookup", [node], [node], build)


# (kind, reference attribute) -> attributes of the target worth asking (none leads back)
_TWO_HOP_CHAINS: dict[tuple[str, str], tuple[str, ...]] = {
    ("country", "capital"): ("population", "founded", "mayor", "elevation"),
    ("city", "country"): ("population", "area", "continent"),
    ("city", "mayor"): ("born", "employer", "height"),
    ("person", "home_city"): ("country", "population", "founded", "elevation"),
    ("person", "employer"): ("headquarters", "employees", "revenue", "founded"),
    ("company", "headquarters"): ("country", "population", "founded", "mayor", "elevation"),
    ("company", "ceo"): ("born", "home_city", "height"),
}


def _pick_two_hop(rng: np.random.Generator, nodes: list[_Node], difficulty: int) -> _Draft:
    kind, ref = _pick(rng, list(_TWO_HOP_CHAINS))
    attr = _pick(rng, _TWO_HOP_CHAINS[(kind, ref)])
    start = _pick(rng, _ids_of(nodes, kind))
    middle = _follow(nodes, start, ref)

    def build(name_of: Callable[[int], str]) -> Task:
        x, m = name_of(start), name_of(middle)
        answer = _value(nodes, middle, attr, name_of)
        question = ask(attr, _REF_PHRASES[ref].format(x=x))
        plan = (_lookup_call(x, ref), _lookup_call(m, attr), _answer_call(answer))
        return Task("two_hop", question, answer, _answer_unit(attr), plan, (x, m))

    return _Draft("two_hop", [start], [start, middle], build)


def _two_distinct(
    rng: np.random.Generator, nodes: list[_Node], kinds_attrs: list[tuple[str, str]]
) -> tuple[str, int, int, str]:
    """A (kind, attribute) and two entities of that kind whose values differ."""
    for _ in range(1000):
        kind, attr = _pick(rng, kinds_attrs)
        a, b = (int(i) for i in rng.choice(_ids_of(nodes, kind), size=2, replace=False))
        if nodes[a].values[attr] != nodes[b].values[attr]:
            return kind, a, b, attr
    raise RuntimeError("no two entities with different values")  # every kind has >= 2


_COMPARABLE = [(k, a) for k in KINDS for a in _numeric_attributes(k)]
_SUMMABLE = [(k, a) for k, a in _COMPARABLE if a in ADDITIVE_ATTRIBUTES]


def _pick_comparison(rng: np.random.Generator, nodes: list[_Node], difficulty: int) -> _Draft:
    kind, a, b, attr = _two_distinct(rng, nodes, _COMPARABLE)
    larger = bool(rng.integers(2))
    va, vb = nodes[a].values[attr], nodes[b].values[attr]
    winner = a if (va > vb) == larger else b

    def build(name_of: Callable[[int], str]) -> Task:
        na, nb = name_of(a), name_of(b)
        template = _COMPARISONS[attr][0 if larger else 1]
        question = template.format(k=kind, a=na, b=nb)
        plan = (_lookup_call(na, attr), _lookup_call(nb, attr), _answer_call(name_of(winner)))
        return Task("comparison", question, name_of(winner), "", plan, (na, nb))

    return _Draft("comparison", [a, b], [a, b], build)


def _pick_lookup_arithmetic(
    rng: np.random.Generator, nodes: list[_Node], difficulty: int
) -> _Draft:
    use_sum = bool(rng.integers(2))
    _, a, b, attr = _two_distinct(rng, nodes, _SUMMABLE if use_sum else _COMPARABLE)
    if not use_sum and nodes[a].values[attr] < nodes[b].values[attr]:
        a, b = b, a  # a difference is always the larger minus the smaller
    va, vb = int(nodes[a].values[attr]), int(nodes[b].values[attr])
    unit = "years" if attr in YEAR_ATTRIBUTES else ATTRIBUTES[attr].unit

    def build(name_of: Callable[[int], str]) -> Task:
        na, nb = name_of(a), name_of(b)
        noun = ATTRIBUTES[attr].noun
        if use_sum:
            question = f"What is the combined {noun} of {na} and {nb}?"
            expression, answer = f"{va} + {vb}", va + vb
        else:
            if attr in YEAR_ATTRIBUTES:
                verb = "founded" if attr == "founded" else "born"
                question = f"How many years after {nb} was {na} {verb}?"
            else:
                question = f"By how much does the {noun} of {na} exceed that of {nb}?"
            expression, answer = f"{va} - {vb}", va - vb
        plan = (
            _lookup_call(na, attr),
            _lookup_call(nb, attr),
            ToolCall("calculator", {"expression": expression}),
            _answer_call(answer),
        )
        return Task("lookup_arithmetic", question, answer, unit, plan, (na, nb))

    return _Draft("lookup_arithmetic", [a, b], [a, b], build)


# (kind asked about, attribute pointing at the keyword entity) -> attributes worth asking
_SEARCHES: dict[tuple[str, str], tuple[str, ...]] = {
    ("company", "headquarters"): ("ceo", "employees", "revenue", "founded"),
    ("city", "mayor"): ("country", "population", "founded", "elevation"),
    ("country", "capital"): ("population", "area", "continent"),
}


def _pick_search(rng: np.random.Generator, nodes: list[_Node], difficulty: int) -> _Draft:
    kind, ref = _pick(rng, list(_SEARCHES))
    attr = _pick(rng, _SEARCHES[(kind, ref)])
    target = _pick(rng, _ids_of(nodes, kind))  # every such reference is unique (see above)
    keyword = _follow(nodes, target, ref)

    def build(name_of: Callable[[int], str]) -> Task:
        k, t = name_of(keyword), name_of(target)
        answer = _value(nodes, target, attr, name_of)
        question = ask(attr, _REVERSE_PHRASES[(kind, ref)].format(x=k))
        plan = (ToolCall("search", {"keyword": k}), _lookup_call(t, attr), _answer_call(answer))
        return Task("search", question, answer, _answer_unit(attr), plan, (k, t))

    return _Draft("search", [keyword], [keyword, target], build)


@dataclass(frozen=True)
class _WordProblem:
    """``text`` and ``expression`` are format strings over the numbers a, b (and c)."""

    text: str
    expression: str
    unit: str
    three_numbers: bool


_WORD_PROBLEMS = (
    _WordProblem(
        "A truck carries {a} crates of {b} kg each. What is the total weight of the crates in kg?",
        "{a} * {b}",
        "kg",
        False,
    ),
    _WordProblem(
        "A tank holds {a} litres of water. {b} litres are drained. How many litres are left?",
        "{a} - {b}",
        "litres",
        False,
    ),
    _WordProblem(
        "A rope {a} m long is cut into pieces of {b} m each. How many pieces are there?",
        "{a} / {b}",
        "pieces",
        False,
    ),
    _WordProblem(
        "A train travels at {a} km per hour for {b} hours. How many km does it travel?",
        "{a} * {b}",
        "km",
        False,
    ),
    _WordProblem(
        "A library has {a} shelves with {b} books each and receives {c} more books. How many "
        "books does it have now?",
        "{a} * {b} + {c}",
        "books",
        True,
    ),
    _WordProblem(
        "A shop sells {a} lamps at {b} USD each and pays {c} USD in rent. What is its profit "
        "in USD?",
        "{a} * {b} - {c}",
        "USD",
        True,
    ),
    _WordProblem(
        "{a} workers each pack {b} boxes per day for {c} days. How many boxes do they pack in "
        "total?",
        "{a} * {b} * {c}",
        "boxes",
        True,
    ),
    _WordProblem(
        "A farm packs {a} eggs into cartons of {b} eggs and sells each carton for {c} USD. How "
        "many USD do the cartons bring in?",
        "{a} / {b} * {c}",
        "USD",
        True,
    ),
)
# Numbers of word problems at each difficulty are drawn from this range.
_WORD_NUMBER_RANGES = {0: (2, 12), 1: (3, 60), 2: (5, 200), 3: (12, 2000)}


def _word_numbers(rng: np.random.Generator, problem: _WordProblem, difficulty: int) -> dict:
    low, high = _WORD_NUMBER_RANGES[difficulty]
    a, b, c = (int(rng.integers(low, high + 1)) for _ in range(3))
    if "/" in problem.expression:
        a = b * a  # whole pieces / cartons: the division is exact
    if problem.expression == "{a} - {b}":
        a = a + b  # something is left
    if problem.expression == "{a} * {b} - {c}":
        c = min(c, a * b - 1)  # a profit, not a loss
    return {"a": a, "b": b, "c": c}


def _pick_arithmetic(rng: np.random.Generator, nodes: list[_Node], difficulty: int) -> _Draft:
    problems = [p for p in _WORD_PROBLEMS if difficulty >= 2 or not p.three_numbers]
    problem = _pick(rng, problems)
    numbers = _word_numbers(rng, problem, difficulty)
    expression = problem.expression.format(**numbers)
    answer = _evaluate_plan_expression(expression)
    question = problem.text.format(**numbers)
    stated = tuple(numbers[k] for k in "abc" if "{" + k + "}" in problem.text)

    def build(name_of: Callable[[int], str]) -> Task:
        plan = (ToolCall("calculator", {"expression": expression}), _answer_call(answer))
        return Task("arithmetic", question, answer, problem.unit, plan, (), stated)

    return _Draft("arithmetic", [], [], build)


def _evaluate_plan_expression(expression: str) -> int:
    from envs.tooluse.calculator import evaluate  # the same calculator the agent calls

    value = evaluate(expression)
    if value.denominator != 1:
        raise AssertionError(f"task arithmetic must be exact, got {expression} = {value}")
    return int(value)


_PICKERS: dict[str, Callable[[np.random.Generator, list[_Node], int], _Draft]] = {
    "arithmetic": _pick_arithmetic,
    "lookup": _pick_lookup,
    "two_hop": _pick_two_hop,
    "lookup_arithmetic": _pick_lookup_arithmetic,
    "comparison": _pick_comparison,
    "search": _pick_search,
}


# ---------------------------------------------------------------------- distractors
def _choose_distractors(
    rng: np.random.Generator, nodes: list[_Node], draft: _Draft, n: int
) -> dict[int, int]:
    """``{distractor node: the subject it mimics}``: same kind as the subject where one is
    free (any kind otherwise; then only the name is alike)."""
    models = draft.subjects or [int(rng.integers(len(nodes)))]  # arithmetic: any entity
    taken = set(draft.involved)
    chosen: dict[int, int] = {}
    for i in range(n):
        model = models[i % len(models)]
        free = [j for j in range(len(nodes)) if j not in taken and j != model]
        same_kind = [j for j in free if nodes[j].kind == nodes[model].kind]
        pick = _pick(rng, same_kind or free)
        chosen[pick] = model
        taken.add(pick)
    return chosen


def _perturb(rng: np.random.Generator, node: _Node, model: _Node) -> None:
    """Move the distractor's numbers close to (never onto) the model's."""
    if node.kind != model.kind:
        return
    for attr, value in model.values.items():
        if isinstance(value, int):
            node.values[attr] = _near(rng, attr, value)


def _near(rng: np.random.Generator, attr: str, value: int) -> int:
    sign = 1 if rng.integers(2) else -1
    if attr in YEAR_ATTRIBUTES:
        step = int(rng.integers(1, 13))
    elif attr in ("height", "elevation"):
        step = int(rng.integers(1, 9)) if attr == "height" else int(rng.integers(5, 201))
    else:
        step = max(1, round(value * rng.uniform(0.03, 0.25)))
    if value - step < 1:
        sign = 1
    return value + sign * step


# ---------------------------------------------------------------------- names
def _assign_names(
    rng: np.random.Generator, nodes: list[_Node], draft: _Draft, look_alikes: dict[int, int]
) -> list[tuple[str, ...]]:
    """Name pieces for every node: the task's nodes first, then look-alikes of the subjects
    (sharing the first syllable, or a person's family name), then the rest."""
    pieces: list[tuple[str, ...] | None] = [None] * len(nodes)
    used: list[str] = [c.casefold() for c in CONTINENTS]
    task_nodes = list(dict.fromkeys(draft.involved))
    models = [m for m in look_alikes.values() if m not in task_nodes]  # arithmetic's model
    first = list(dict.fromkeys(task_nodes + models))
    for i in first:
        pieces[i] = _fresh_name(rng, nodes[i].kind, used, None)
    for i, model in look_alikes.items():
        pieces[i] = _fresh_name(rng, nodes[i].kind, used, pieces[model])
    for i in range(len(nodes)):
        if pieces[i] is None:
            pieces[i] = _fresh_name(rng, nodes[i].kind, used, None)
    return pieces  # type: ignore[return-value]


def _fresh_name(
    rng: np.random.Generator,
    kind: str,
    used: list[str],
    like: tuple[str, ...] | None,
) -> tuple[str, ...]:
    """Pieces of a name that is unique and no substring of a used one (nor they of it)."""
    for attempt in range(200):
        alike = like if attempt < 100 else None  # give up on similarity before on uniqueness
        pieces = _random_name(rng, kind, alike)
        key = name_from_pieces(pieces).casefold()
        if all(key not in other and other not in key for other in used):
            used.append(key)
            return pieces
    raise RuntimeError("could not draw a unique name")  # needs ~60 names from 40**3 words


def _random_word(rng: np.random.Generator, first: str | None = None) -> tuple[str, ...]:
    count = 2 + int(rng.integers(2))
    syllables = [_pick(rng, SYLLABLES) for _ in range(count)]
    if first is not None:
        syllables[0] = first
    return tuple(syllables)


def _random_name(
    rng: np.random.Generator, kind: str, like: tuple[str, ...] | None
) -> tuple[str, ...]:
    if kind == "person":
        family = _split_words(like)[-1] if like and NAME_SPACE in like else _random_word(rng)
        return (*_random_word(rng), NAME_SPACE, *family)
    first = like[0] if like else None
    word = _random_word(rng, first)
    if kind != "company":
        return word
    suffix = _split_words(like)[-1] if like and NAME_SPACE in like else None
    return (*word, NAME_SPACE, *(suffix or (_pick(rng, COMPANY_SUFFIXES),)))


def _split_words(pieces: tuple[str, ...]) -> list[tuple[str, ...]]:
    words: list[list[str]] = [[]]
    for piece in pieces:
        if piece == NAME_SPACE:
            words.append([])
        else:
            words[-1].append(piece)
    return [tuple(w) for w in words]
