"""Messages <-> transcript text, sanitising, and what a transcript mentions.

Messages are OpenAI-style dicts, exactly these keys::

    {"role": "system" | "user" | "assistant", "content": str}
    {"role": "tool", "name": <tool name>, "content": str}

The env's list is: the system message (instructions and the tool schemas as JSON), the
user message (the question), then per action an assistant message (the action text,
sanitised) and a tool message (the tool's result, or ``"error: ..."``; ``name`` is the tool,
or ``"invalid"`` when the action named no known tool).

:func:`format_transcript` renders them deterministically, one block per message::

    === system ===
    <content>
    === user ===
    <content>
    === assistant ===
    <content>
    === tool: lookup ===
    <content>

Each block is a header line, the escaped content and a newline. Escapes: ``\\`` is written
``\\\\``; a character outside printable ASCII and newline is written ``\\u{hex}``; a line of
content that starts with ``=`` starts with ``\\=`` instead, so only headers start with
``=``. The text is therefore always printable ASCII plus newlines, and
:func:`parse_transcript` inverts :func:`format_transcript` exactly for any message contents
and tool names (``parse_transcript(format_transcript(m)) == m``).

:func:`sanitize` is what the env applies to every assistant and tool content before
storing it: printable ASCII and newlines only (a tab becomes a space, a carriage return a
newline, anything else ``?``), cut to a length with a note of how much was cut.

:func:`mentions` lists what the non-system messages mention: world entity names in order of
first appearance, the attribute names, and the numbers (a structured interface's inputs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from envs.tooluse.world import ATTRIBUTE_NAMES, World

ROLES = ("system", "user", "assistant", "tool")
# Characters of every transcript and of the env's observation space.
TRANSCRIPT_CHARSET = "".join(chr(c) for c in range(32, 127)) + "\n"

_HEADER = re.compile(r"=== (system|user|assistant|tool: (.*)) ===")
_NEEDS_ESCAPE = re.compile(r"[^\x20-\x5b\x5d-\x7e\n]")  # backslash and non-printables
_NAME_NEEDS_ESCAPE = re.compile(r"[^\x20-\x5b\x5d-\x7e]")
_LINE_START_EQUALS = re.compile(r"^=", re.MULTILINE)
_ESCAPE = re.compile(r"\\(?:(\\)|(=)|u\{([0-9a-f]{1,6})\})")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e\n]")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    return "\\\\" if ch == "\\" else f"\\u{{{ord(ch):x}}}"


def escape(text: str) -> str:
    """``text`` with backslashes, non-printables and line-leading ``=`` escaped."""
    return _LINE_START_EQUALS.sub("\\\\=", _NEEDS_ESCAPE.sub(_escape_char, text))


def escape_name(name: str) -> str:
    """A tool name for a header line: like :func:`escape`, newlines escaped too."""
    return _NAME_NEEDS_ESCAPE.sub(_escape_char, name)


def unescape(text: str) -> str:
    """The inverse of :func:`escape`; ValueError on a backslash that starts no escape."""
    pieces = []
    end = 0
    for match in _ESCAPE.finditer(text):
        pieces.append(_plain(text[end : match.start()]))
        backslash, equals, code = match.groups()
        if code is not None:
            point = int(code, 16)
            if point > 0x10FFFF:
                raise ValueError(f"escape \\u{{{code}}} is not a code point")
            pieces.append(chr(point))
        else:
            pieces.append(backslash or equals)
        end = match.end()
    pieces.append(_plain(text[end:]))
    return "".join(pieces)


def _plain(text: str) -> str:
    if "\\" in text:
        raise ValueError(f"stray backslash in transcript text near {text[:40]!r}")
    return text


def _header(message: dict[str, str]) -> str:
    role = message.get("role")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    expected = {"role", "content", "name"} if role == "tool" else {"role", "content"}
    if set(message) != expected:
        raise ValueError(f"a {role} message has exactly the keys {sorted(expected)}")
    if not isinstance(message["content"], str):
        raise ValueError(f"content must be a string, got {type(message['content']).__name__}")
    if role != "tool":
        return f"=== {role} ==="
    name = message["name"]
    if not isinstance(name, str):
        raise ValueError(f"a tool message's name must be a string, got {type(name).__name__}")
    return f"=== tool: {escape_name(name)} ==="


def format_message(message: dict[str, str]) -> str:
    """One message's block: header line, escaped content, newline."""
    return f"{_header(message)}\n{escape(message['content'])}\n"


def format_transcript(messages: Iterable[dict[str, str]]) -> str:
    """The transcript text of ``messages`` (see the module docstring)."""
    return "".join(format_message(m) for m in messages)


def parse_transcript(text: str) -> list[dict[str, str]]:
    """The messages :func:`format_transcript` rendered as ``text``; ValueError if it is not
    such a text."""
    if not text:
        return []
    if not text.startswith("=") or not text.endswith("\n"):
        raise ValueError("a transcript starts with a '=== role ===' header and ends in a newline")
    lines = [m for m in re.finditer(r"^=.*$", text, re.MULTILINE)]
    messages = []
    for i, line in enumerate(lines):
        header = _HEADER.fullmatch(line.group())
        if header is None:
            raise ValueError(f"not a header: {line.group()[:60]!r}")
        start = line.end() + 1
        stop = lines[i + 1].start() - 1 if i + 1 < len(lines) else len(text) - 1
        if stop < start:
            raise ValueError(f"the block {line.group()[:60]!r} has no content line")
        content = unescape(text[start:stop])
        if header.group(2) is not None:
            name = unescape(header.group(2))
            messages.append({"role": "tool", "name": name, "content": content})
        else:
            messages.append({"role": header.group(1), "content": content})
    return messages


def sanitize(text: str, max_chars: int) -> str:
    """Printable ASCII and newlines only (tab -> space, CR or CRLF -> newline, others ->
    ``?``), at most ``max_chars`` characters plus a note of how many more there were."""
    cut = text[:max_chars].replace("\r\n", "\n").replace("\r", "\n")
    clean = _NOT_PRINTABLE.sub(lambda m: " " if m.group() == "\t" else "?", cut)
    if len(text) > max_chars:
        clean += f"...[{len(text) - max_chars} more characters]"
    return clean


# ---------------------------------------------------------------------- mentions
@dataclass(frozen=True)
class Mentions:
    """What messages mention: entity names (in order of first appearance), attribute names
    (in order of first appearance) and numbers (in order, repeats dropped)."""

    entities: tuple[str, ...]
    attributes: tuple[str, ...]
    numbers: tuple[int | Fraction, ...]


_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.,])(-?)([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"
    r"(?![A-Za-z0-9_])"
)
_ATTRIBUTE = re.compile(r"\b(" + "|".join(ATTRIBUTE_NAMES) + r")\b")


def numbers_in(text: str) -> list[int | Fraction]:
    """The numbers ``text`` states, in order (``1,234`` is 1234; digits inside words such
    as ``km2`` are not numbers; a ``-`` right before a digit is a sign)."""
    found: list[int | Fraction] = []
    for match in _NUMBER.finditer(text):
        value = Fraction(match.group(2).replace(",", ""))
        if match.group(1):
            value = -value
        found.append(int(value) if value.denominator == 1 else value)
    return found


def entities_in(text: str, world: World) -> list[str]:
    """Names of ``world``'s entities that ``text`` mentions (any case), by first position."""
    positions = []
    for name in world.names:
        pattern = r"(?<![A-Za-z])" + re.escape(name) + r"(?![A-Za-z])"
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            positions.append((match.start(), name))
    return [name for _, name in sorted(positions)]


def mentions(messages: Sequence[dict[str, str]], world: World) -> Mentions:
    """What the user, assistant and tool messages mention (the system message excluded)."""
    text = "\n".join(m["content"] for m in messages if m["role"] != "system")
    numbers = list(dict.fromkeys(numbers_in(text)))
    attributes = list(dict.fromkeys(_ATTRIBUTE.findall(text)))
    return Mentions(tuple(entities_in(text, world)), tuple(attributes), tuple(numbers))
