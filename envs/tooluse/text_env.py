"""ToolUseEnv: answer a question about a generated world by calling tools, text in, text out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from envs.tooluse.tools import TOOL_SCHEMAS, ActionError, execute, parse_action, quote
from envs.tooluse.transcript import (
    TRANSCRIPT_CHARSET,
    Mentions,
    format_message,
    mentions,
    sanitize,
)
from envs.tooluse.world import (
    ATTRIBUTE_NAMES,
    DEFAULT_DISTRACTORS,
    DIFFICULTIES,
    DIFFICULTY_TASK_TYPES,
    MAX_DISTRACTORS,
    MAX_QUESTION_CHARS,
    TASK_TYPES,
    Episode,
    Task,
    ToolCall,
    World,
    generate_episode,
)

RESET_OPTIONS = ("task_type",)
RENDER_MODES = ("ansi",)
INVALID_TOOL_NAME = "invalid"  # the tool message's name when an action named no known tool
# Header and escaping overhead a block can add on top of its sanitised content.
_BLOCK_OVERHEAD = 64

SYSTEM_PROMPT = """\
You answer one question about a fictional world. Its facts are only available through the \
tools below; do not guess them.
Call exactly one tool per message, written as a JSON object: \
{"tool": "<name>", "args": {<arguments>}}.
Finish with {"tool": "answer", "args": {"value": "<value>"}} or the line "answer: <value>". \
A number may carry commas and a unit; a name must be spelled as the tools spell it.
Every call costs a little and an invalid call costs more; the episode ends with your answer.
Entities are countries, cities, people and companies. Attributes: {attributes}.
Tools (OpenAI function schemas, one per line):
{schemas}"""


def system_prompt() -> str:
    """The system message's content: instructions, attribute names and tool schemas."""
    schemas = "\n".join(json.dumps(s, separators=(",", ":")) for s in TOOL_SCHEMAS)
    return SYSTEM_PROMPT.replace("{attributes}", ", ".join(ATTRIBUTE_NAMES)).replace(
        "{schemas}", schemas
    )


class ToolUseEnv(gym.Env):
    """Answer a question about a small generated world with calculator, lookup and search.

    ## Description
    Each episode draws from ``np_random`` a fictional world of countries, cities, people and
    companies (names made of fixed syllables, integer attributes with units) and a question
    of one task type: ``arithmetic`` (a word problem: one calculator call), ``lookup`` (one
    lookup), ``two_hop`` ("the population of the capital of X": two lookups),
    ``lookup_arithmetic`` (two lookups and a calculator call), ``comparison`` ("which has
    the larger population, A or B?": two lookups; the answer is a name) or ``search`` ("the
    revenue of the company headquartered in C": a search and a lookup). Look-alike
    distractor entities (similar names, close numbers) sit in every world. The generator
    knows its plan (the calls above, then the answer); :meth:`expert_action` plays it.
    See :mod:`envs.tooluse.world` for the world, the tasks and the answer tolerance.

    ## Action Space
    A string (``Text(max_action_chars)`` over printable ASCII and newline; any string is
    accepted, the space only describes what is shown): a JSON tool call
    ``{"tool": "lookup", "args": {"entity": "Marrin", "attribute": "population"}}`` (tools
    ``calculator(expression)``, ``lookup(entity, attribute)``, ``search(keyword)``,
    ``answer(value)``; schemas in :data:`envs.tooluse.tools.TOOL_SCHEMAS`), or the line
    ``answer: <value>``. Malformed JSON, an unknown tool, missing / extra / wrongly typed
    arguments, an unknown entity or attribute, a calculator error or an action longer than
    ``max_action_chars`` are answered with an ``error: ...`` tool message and
    ``invalid_penalty``; the episode goes on. A non-string action raises TypeError.

    ## Observation Space
    ``Text(max_transcript_chars)`` over printable ASCII and newline: the transcript
    (:func:`envs.tooluse.transcript.format_transcript`) of the system message (instructions
    and tool schemas), the question, and an assistant message (the action, sanitised) and a
    tool message (the result) per step. When it would be longer than
    ``max_transcript_chars`` the oldest turns give way to a system message
    ``[N earlier messages omitted]``; :attr:`messages` keeps them all.
    :func:`envs.tooluse.transcript.parse_transcript` turns an observation back into messages.

    ## Rewards
    ``-call_cost`` per valid tool call, ``-invalid_penalty`` per invalid action,
    ``correct_reward`` for a correct answer and 0 for a wrong one.

    ## Starting State
    A new world and question every reset; the task type is drawn uniformly from
    ``task_types``, or given for one episode by ``reset(options={"task_type": ...})``.

    ## Episode End
    Terminated by an answer (right or wrong). Truncation comes from the registered
    ``max_episode_steps`` (12 for ``palaestra/ToolUse-v0``).

    ## Information
    ``answer`` (the correct answer as text: digits or a name), ``is_success`` (answered correctly),
    ``calls`` (valid tool calls so far, the answer excluded), ``min_calls`` (the plan's
    calls, the answer excluded), ``invalid_calls``, ``task_type``.

    ## Arguments
    - ``task_types``: a list of task type names, or None for those of ``difficulty``
      (0: arithmetic, lookup; 1: and two_hop, comparison; 2 and 3: all six).
    - ``difficulty``: 0..3 (default 2): world size, distractors and word-problem numbers.
    - ``n_distractors``: look-alike entities per world, 0..8 (None: 1, 2, 4, 6 by
      difficulty).
    - ``correct_reward`` (1.0), ``call_cost`` (0.01), ``invalid_penalty`` (0.05).
    - ``max_action_chars`` (500): longer actions are cut in the transcript and invalid.
    - ``max_result_chars`` (1500): tool results are cut to this.
    - ``max_transcript_chars`` (16384): the observation's length limit.
    - ``render_mode``: None or ``"ansi"`` (:meth:`render` returns the last turn's text).

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(
        self,
        *,
        task_types: Sequence[str] | None = None,
        difficulty: int = 2,
        n_distractors: int | None = None,
        correct_reward: float = 1.0,
        call_cost: float = 0.01,
        invalid_penalty: float = 0.05,
        max_action_chars: int = 500,
        max_result_chars: int = 1500,
        max_transcript_chars: int = 16384,
        render_mode: str | None = None,
    ) -> None:
        self.difficulty = _check_difficulty(difficulty)
        self.task_types = _check_task_types(task_types, self.difficulty)
        self.n_distractors = _check_distractors(n_distractors, self.difficulty)
        self.correct_reward = _check_number("correct_reward", correct_reward)
        self.call_cost = _check_number("call_cost", call_cost, non_negative=True)
        self.invalid_penalty = _check_number("invalid_penalty", invalid_penalty, True)
        self.max_action_chars = _check_size("max_action_chars", max_action_chars, 16)
        self.max_result_chars = _check_size("max_result_chars", max_result_chars, 200)
        self._system = {"role": "system", "content": system_prompt()}
        self._system_block = format_message(self._system)
        self.max_transcript_chars = _check_size(
            "max_transcript_chars", max_transcript_chars, self._min_transcript_chars()
        )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid modes: None, {', '.join(RENDER_MODES)}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Text(
            self.max_transcript_chars, min_length=1, charset=TRANSCRIPT_CHARSET
        )
        self.action_space = spaces.Text(
            self.max_action_chars, min_length=0, charset=TRANSCRIPT_CHARSET
        )
        self._episode: Episode | None = None
        self._messages: list[dict[str, str]] = []
        self._blocks: list[str] = []  # format_message of each message, kept for speed
        self._done_keys: set[str] = set()  # canonical keys of the valid calls made
        self._calls = 0
        self._invalid = 0
        self._success = False
        self._ended = False
        self._turn_start = 0  # index of the first message of the latest turn

    def _min_transcript_chars(self) -> int:
        """Room for the system and user blocks, the omission note and one full turn."""
        turn = 2 * (self.max_action_chars + self.max_result_chars) + 4 * _BLOCK_OVERHEAD
        return len(self._system_block) + 2 * MAX_QUESTION_CHARS + 2 * _BLOCK_OVERHEAD + turn

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        task_type = self._task_type(options)
        self._episode = generate_episode(
            self.np_random, task_type, self.difficulty, self.n_distractors
        )
        self._messages, self._blocks = [], []
        self._done_keys = set()
        self._calls = self._invalid = 0
        self._success = self._ended = False
        self._turn_start = 0
        self._append(dict(self._system), self._system_block)
        self._append({"role": "user", "content": self._episode.task.question})
        return self._observation(), self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if not isinstance(action, str):
            raise TypeError(
                "ToolUseEnv actions are strings (a JSON tool call or 'answer: <value>'), got "
                f"{type(action).__name__}"
            )
        if self._episode is None:
            raise RuntimeError("call reset() before step()")
        if self._ended:
            raise RuntimeError("the episode has ended with an answer; call reset()")
        self._turn_start = len(self._messages)
        shown = sanitize(action, self.max_action_chars)
        self._append({"role": "assistant", "content": shown})
        reward, terminated = self._act(action, shown)
        return self._observation(), reward, terminated, False, self._info()

    def _act(self, action: str, shown: str) -> tuple[float, bool]:
        """Run the action; append the tool message. Returns (reward, terminated)."""
        if len(action) > self.max_action_chars:
            message = (
                f"the action is {len(action)} characters long; the limit is "
                f"max_action_chars={self.max_action_chars}"
            )
            return self._invalid_action(INVALID_TOOL_NAME, message)
        try:
            call = parse_action(shown)
        except ActionError as e:
            return self._invalid_action(e.tool or INVALID_TOOL_NAME, str(e))
        if call.tool == "answer":
            return self._answer(call.args["value"])
        result = execute(self.world, call)
        self._tool_message(call.tool, result.content)
        if not result.ok:
            self._invalid += 1
            return -self.invalid_penalty, False
        self._calls += 1
        self._done_keys.add(_call_key(result.call))
        return -self.call_cost, False

    def _invalid_action(self, tool: str, message: str) -> tuple[float, bool]:
        self._invalid += 1
        self._tool_message(tool, f"error: {message}")
        return -self.invalid_penalty, False

    def _answer(self, value: str) -> tuple[float, bool]:
        task = self.task
        self._success = task.is_correct(value)
        self._ended = True
        verdict = "correct" if self._success else f"wrong; the answer was {task.answer}"
        self._tool_message("answer", f"{quote(value)} is {verdict}")
        return (self.correct_reward if self._success else 0.0), True

    def _tool_message(self, name: str, content: str) -> None:
        content = sanitize(content, self.max_result_chars)
        self._append({"role": "tool", "name": name, "content": content})

    def _append(self, message: dict[str, str], block: str | None = None) -> None:
        self._messages.append(message)
        self._blocks.append(block if block is not None else format_message(message))

    def _observation(self) -> str:
        total = sum(len(b) for b in self._blocks)
        if total <= self.max_transcript_chars:
            return "".join(self._blocks)
        head, turns = self._blocks[:2], self._blocks[2:]
        budget = self.max_transcript_chars - sum(len(b) for b in head)
        size = total - sum(len(b) for b in head)
        # Drop whole turns (assistant + tool), oldest first, until the rest and the note fit;
        # the size checks at construction make the latest turn always fit.
        for dropped in range(2, len(turns) + 1, 2):
            size -= len(turns[dropped - 2]) + len(turns[dropped - 1])
            note = format_message(
                {"role": "system", "content": f"[{dropped} earlier messages omitted]"}
            )
            if size + len(note) <= budget:
                break
        return "".join([*head, note, *turns[dropped:]])

    def _info(self) -> dict[str, Any]:
        task = self.task
        return {
            # Text whatever the task type, so vector envs can stack it with other copies'.
            "answer": str(task.answer),
            "is_success": self._success,
            "calls": self._calls,
            "min_calls": task.min_calls,
            "task_type": task.task_type,
            "invalid_calls": self._invalid,
        }

    def _task_type(self, options: dict[str, Any] | None) -> str:
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown reset options {unknown}; valid options: {', '.join(RESET_OPTIONS)}"
            )
        task_type = options.get("task_type")
        if task_type is None:
            return self.task_types[int(self.np_random.integers(len(self.task_types)))]
        if task_type not in TASK_TYPES:
            raise ValueError(
                f"unknown task_type {task_type!r} in reset options; valid: {', '.join(TASK_TYPES)}"
            )
        return task_type

    # ------------------------------------------------------------------ expert
    def expert_action(self) -> str:
        """The next action of the generator's plan: its first call not made yet (by any
        valid call with the same tool and arguments), the answer last. Following it from
        the start solves the task with exactly ``min_calls`` calls."""
        if self._episode is None:
            raise RuntimeError("call reset() before asking for the expert action")
        plan = self.task.plan
        step = next((c for c in plan[:-1] if _call_key(c) not in self._done_keys), plan[-1])
        return step.to_action()

    # ------------------------------------------------------------------ inspection
    @property
    def episode(self) -> Episode:
        if self._episode is None:
            raise RuntimeError("call reset() first: the world is drawn at reset")
        return self._episode

    @property
    def world(self) -> World:
        """This episode's world (entities and attributes)."""
        return self.episode.world

    @property
    def task(self) -> Task:
        """This episode's task: question, answer, plan."""
        return self.episode.task

    @property
    def messages(self) -> list[dict[str, str]]:
        """Every message of the episode so far (copies)."""
        return [dict(m) for m in self._messages]

    @property
    def transcript(self) -> str:
        """The whole transcript, nothing omitted."""
        return "".join(self._blocks)

    def mentions(self) -> Mentions:
        """Entities, attributes and numbers the question and the turns so far mention."""
        return mentions(self._messages, self.world)

    def render(self) -> str | None:
        """``"ansi"``: the text of the latest turn (system and question after a reset, the
        action and its result after a step)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with 'ansi'")
            return None
        return "".join(self._blocks[self._turn_start :])


def _call_key(call: ToolCall) -> str:
    """Calls that do the same thing share a key: case and spacing do not matter."""
    args = {k: "".join(str(v).split()).casefold() for k, v in call.args.items()}
    return json.dumps([call.tool, args], sort_keys=True)


# ---------------------------------------------------------------------- argument checks
def _check_difficulty(difficulty: int) -> int:
    if type(difficulty) is not int or difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {list(DIFFICULTIES)}, got {difficulty!r}")
    return difficulty


def _check_task_types(task_types: Sequence[str] | None, difficulty: int) -> tuple[str, ...]:
    if task_types is None:
        return DIFFICULTY_TASK_TYPES[difficulty]
    if isinstance(task_types, str):
        raise ValueError(
            f"task_types must be a list of names, got the string {task_types!r} (write "
            f"[{task_types!r}]); valid: {', '.join(TASK_TYPES)}"
        )
    chosen = tuple(task_types)
    unknown = [t for t in chosen if t not in TASK_TYPES]
    if unknown or not chosen:
        problem = f"unknown task_types {unknown}" if unknown else "task_types is empty"
        raise ValueError(f"{problem}; valid: {', '.join(TASK_TYPES)}")
    return chosen


def _check_distractors(n_distractors: int | None, difficulty: int) -> int:
    if n_distractors is None:
        return DEFAULT_DISTRACTORS[difficulty]
    if type(n_distractors) is not int or not 0 <= n_distractors <= MAX_DISTRACTORS:
        raise ValueError(
            f"n_distractors must be an int in 0..{MAX_DISTRACTORS} or None, got {n_distractors!r}"
        )
    return n_distractors


def _check_number(name: str, value: float, non_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{name} must be a number, got {value!r}")
    if non_negative and value < 0:
        raise ValueError(f"{name} is subtracted from the reward, so it must be >= 0, got {value}")
    return float(value)


def _check_size(name: str, value: int, minimum: int) -> int:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
