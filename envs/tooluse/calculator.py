"""A safe arithmetic calculator: a whitelisted grammar, a hand-written parser, hard bounds.

Nothing here calls ``eval`` or ``exec``. An expression is tokenised by hand, parsed by
recursive descent with Python's precedence and evaluated exactly on
:class:`fractions.Fraction`, so ``/`` is exact and ``7 / 2`` is ``3.5``::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/" | "//" | "%") unary)*
    unary  := ("+" | "-") unary | power
    power  := atom ("**" unary)?            # right-associative: 2**3**2 = 2**9
    atom   := NUMBER | "(" expr ")"
    NUMBER := 123 | 1,234,567 | 3.25 | .5   # ASCII digits; commas only as thousands groups

``-2**2`` is ``-4`` and ``2**-1`` is ``0.5``, as in Python; ``//`` and ``%`` floor like
Python's. Spaces and tabs separate tokens; any other character is an error.

Bounds (each answered with an error, never an exception or a long computation): at most
:data:`MAX_EXPRESSION_CHARS` characters (checked first, so a megabyte costs nothing),
:data:`MAX_TOKENS` tokens, :data:`MAX_DEPTH` levels of nesting (parentheses, signs and
powers), integer exponents of at most :data:`MAX_EXPONENT` in size (so ``9**9**9`` is
refused at once), and every literal and intermediate result within :data:`MAX_MAGNITUDE`
in size with a denominator at most :data:`MAX_DENOMINATOR`.

:func:`calculator` is the tool: it returns the result as text (``"420"``, ``"3.5"``) or a
line starting with ``"error: "``. :func:`evaluate` returns the exact value or raises
:class:`CalculatorError`.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_EXPRESSION_CHARS = 200
MAX_TOKENS = 100
MAX_DEPTH = 40
MAX_MAGNITUDE = 10**15
MAX_DENOMINATOR = 10**15
MAX_EXPONENT = 64
# Decimal places shown for a result that is not an integer (more only for tiny values).
RESULT_DECIMALS = 10

_NUMBER = re.compile(
    r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9,])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
)
_OPERATORS = ("**", "//", "+", "-", "*", "/", "%", "(", ")")
_HINTS = {"^": " (use ** for powers)", "x": " (use * to multiply)", "\u00d7": " (use *)"}


class CalculatorError(ValueError):
    """An expression outside the grammar or the bounds; the message says which and where."""


def calculator(expression: str) -> str:
    """The calculator tool: the value of ``expression`` as text, or ``"error: ..."``.

    Never raises, whatever ``expression`` holds (a non-string is an error too).
    """
    try:
        return format_number(evaluate(expression))
    except (CalculatorError, ZeroDivisionError, OverflowError, ValueError) as e:
        message = "division by zero" if isinstance(e, ZeroDivisionError) else str(e)
        return f"error: {message}"


def evaluate(expression: str) -> Fraction:
    """The exact value of ``expression``; :class:`CalculatorError` when it is not allowed."""
    if not isinstance(expression, str):
        raise CalculatorError(f"expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(
            f"expression is {len(expression)} characters long; the limit is {MAX_EXPRESSION_CHARS}"
        )
    tokens = tokenize(expression)
    if not tokens:
        raise CalculatorError("empty expression")
    return _Parser(tokens).parse()


def tokenize(expression: str) -> list[tuple[str, Fraction | None, int]]:
    """``(kind, value, position)`` tokens: kind ``"num"`` with its value, or the operator."""
    tokens: list[tuple[str, Fraction | None, int]] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch in " \t":
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise CalculatorError(f"more than {MAX_TOKENS} tokens")
        match = _NUMBER.match(expression, i)
        if match:
            tokens.append(("num", _number(match.group(), i), i))
            i = match.end()
            continue
        op = next((o for o in _OPERATORS if expression.startswith(o, i)), None)
        if op is None:
            hint = _HINTS.get(ch, "")
            raise CalculatorError(f"unexpected character {ch!a} at position {i}{hint}")
        tokens.append((op, None, i))
        i += len(op)
    return tokens


def _number(text: str, position: int) -> Fraction:
    value = Fraction(text.replace(",", ""))
    return _bounded(value, f"the number at position {position}")


def _bounded(value: Fraction, what: str = "a result") -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise CalculatorError(f"{what} is larger than {MAX_MAGNITUDE:.0e} in size")
    if value.denominator > MAX_DENOMINATOR:
        raise CalculatorError(f"{what} needs more than 15 decimal places")
    return value


class _Parser:
    """Recursive descent over the tokens, evaluating as it goes."""

    def __init__(self, tokens: list[tuple[str, Fraction | None, int]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def parse(self) -> Fraction:
        value = self._expr()
        if self.pos < len(self.tokens):
            kind, _, at = self.tokens[self.pos]
            raise CalculatorError(f"unexpected {_describe(kind)} at position {at}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalculatorError(f"expression nested more than {MAX_DEPTH} levels deep")

    def _expr(self) -> Fraction:
        value = self._term()
        while (op := self._peek()) in ("+", "-"):
            self.pos += 1
            right = self._term()
            value = _bounded(value + right if op == "+" else value - right)
        return value

    def _term(self) -> Fraction:
        value = self._unary()
        while (op := self._peek()) in ("*", "/", "//", "%"):
            self.pos += 1
            right = self._unary()
            if op != "*" and right == 0:
                raise CalculatorError("division by zero")
            if op == "*":
                value = value * right
            elif op == "/":
                value = value / right
            elif op == "//":
                value = Fraction(value // right)
            else:
                value = value % right
            value = _bounded(value)
        return value

    def _unary(self) -> Fraction:
        op = self._peek()
        if op not in ("+", "-"):
            return self._power()
        self.pos += 1
        self._enter()
        operand = self._unary()
        self.depth -= 1
        return -operand if op == "-" else operand

    def _power(self) -> Fraction:
        base = self._atom()
        if self._peek() != "**":
            return base
        self.pos += 1
        self._enter()
        exponent = self._unary()
        self.depth -= 1
        return _power(base, exponent)

    def _atom(self) -> Fraction:
        if self.pos >= len(self.tokens):
            raise CalculatorError("unexpected end of expression")
        kind, value, at = self.tokens[self.pos]
        self.pos += 1
        if kind == "num":
            return value
        if kind != "(":
            raise CalculatorError(f"unexpected {_describe(kind)} at position {at}")
        self._enter()
        inner = self._expr()
        if self._peek() != ")":
            raise CalculatorError(f"the parenthesis at position {at} is not closed")
        self.pos += 1
        self.depth -= 1
        return inner


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    """``base ** exponent`` for an integer exponent of at most ``MAX_EXPONENT`` in size.

    Operands are bounded (numerator below 1e30, denominator below 1e15), so the exact power
    has at most a few thousand digits: cheap to compute before the bounds check.
    """
    if exponent.denominator != 1:
        raise CalculatorError("exponents must be integers")
    e = int(exponent)
    if abs(e) > MAX_EXPONENT:
        raise CalculatorError(f"exponent {e} is outside -{MAX_EXPONENT}..{MAX_EXPONENT}")
    if base == 0 and e < 0:
        raise CalculatorError("division by zero")
    return _bounded(base**e)


def _describe(kind: str) -> str:
    return "number" if kind == "num" else repr(kind)


def format_number(value: Fraction) -> str:
    """An exact integer as digits; otherwise a decimal with at most ``RESULT_DECIMALS``
    places (15 for values below 1e-6), trailing zeros dropped; never an exponent."""
    if value.denominator == 1:
        return str(value.numerator)
    places = RESULT_DECIMALS if abs(value) >= Fraction(1, 10**6) else 15
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, frac = digits[:-places], digits[-places:].rstrip("0")
    if not frac:
        return f"{sign}{whole}" if int(whole) else "0"
    return f"{sign}{whole}.{frac}"
