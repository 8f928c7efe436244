"""The calculator: Python's arithmetic on its grammar, exact results, and hostile input."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.tooluse.calculator import (
    MAX_DENOMINATOR,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_EXPRESSION_CHARS,
    MAX_MAGNITUDE,
    CalculatorError,
    calculator,
    evaluate,
    format_number,
)


# ---------------------------------------------------------------- Python's semantics
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 1 + 2 * 3),
        ("(1 + 2) * 3", (1 + 2) * 3),
        ("-2**2", -(2**2)),
        ("2**-1", Fraction(1, 2)),
        ("2**3**2", 2**3**2),
        ("(2**3)**2", (2**3) ** 2),
        ("7 // 2", 7 // 2),
        ("-7 // 2", -7 // 2),
        ("7 // -2", 7 // -2),
        ("-7 % 3", -7 % 3),
        ("7 % -3", 7 % -3),
        ("7 / 2", Fraction(7, 2)),
        ("10 - 4 - 3", 10 - 4 - 3),
        ("100 / 10 / 5", Fraction(2)),
        ("--3", 3),
        ("+-+3", -3),
        ("2 * -3", -6),
        ("1,234,567 + 1", 1_234_568),
        ("3.25 * 4", 13),
        (".5 + .25", Fraction(3, 4)),
        ("0 ** 0", 1),
        ("  12\t*  35 ", 420),
    ],
)
def test_matches_python_precedence_and_rounding(expression: str, expected: Fraction) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(420), "420"),
        (Fraction(-3), "-3"),
        (Fraction(7, 2), "3.5"),
        (Fraction(-1, 4), "-0.25"),
        (Fraction(1, 3), "0.3333333333"),
        (Fraction(2, 3), "0.6666666667"),
        (Fraction(1, 10**9), "0.000000001"),
        (Fraction(1, 10**12), "0.000000000001"),
    ],
)
def test_results_are_written_without_exponents(value: Fraction, text: str) -> None:
    assert format_number(value) == text


# Expression trees: ("num", n) or (op, left, right) / ("neg", x), rendered fully bracketed.
_OPS = ("+", "-", "*", "/", "//", "%", "**")


def _trees() -> st.SearchStrategy:
    leaves = st.integers(0, 999).map(lambda n: ("num", n))
    return st.recursive(
        leaves,
        lambda sub: st.one_of(
            st.tuples(st.sampled_from(_OPS), sub, sub), st.tuples(st.just("neg"), sub)
        ),
        max_leaves=8,
    )


def _render(tree: tuple) -> str:
    if tree[0] == "num":
        return str(tree[1])
    if tree[0] == "neg":
        return f"(-{_render(tree[1])})"
    return f"({_render(tree[1])} {tree[0]} {_render(tree[2])})"


def _python_value(tree: tuple) -> Fraction:
    """Python's own operators on exact Fractions; ValueError where the calculator must refuse
    (division by zero, a non-integer or oversized exponent, a result out of bounds)."""
    if tree[0] == "num":
        return Fraction(tree[1])
    if tree[0] == "neg":
        return -_python_value(tree[1])
    a, b = _python_value(tree[1]), _python_value(tree[2])
    op = tree[0]
    if op in ("/", "//", "%") and b == 0:
        raise ValueError("division by zero")
    if op == "**" and (b.denominator != 1 or abs(b) > MAX_EXPONENT or (a == 0 and b < 0)):
        raise ValueError("refused power")
    result = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "//": lambda: Fraction(a // b),
        "%": lambda: a % b,
        "**": lambda: a ** int(b),
    }[op]()
    if abs(result) > MAX_MAGNITUDE or result.denominator > MAX_DENOMINATOR:
        raise ValueError("out of bounds")
    return result


@settings(max_examples=300, deadline=None, database=None)
@given(_trees())
def test_agrees_with_python_arithmetic_on_generated_expressions(tree: tuple) -> None:
    expression = _render(tree)
    if len(expression) > MAX_EXPRESSION_CHARS:
        assert calculator(expression).startswith("error: ")
        return
    try:
        expected = _python_value(tree)
    except ValueError:
        assert calculator(expression).startswith("error: ")
        with pytest.raises(CalculatorError):
            evaluate(expression)
        return
    assert evaluate(expression) == expected
    assert calculator(expression) == format_number(expected)


def test_integer_results_match_python_int_arithmetic() -> None:
    assert calculator("12 * 35") == str(12 * 35)
    assert calculator("123456789 * 1000") == str(123456789 * 1000)
    assert calculator("(4 + 5) * (6 - 8) // 3 % 5") == str((4 + 5) * (6 - 8) // 3 % 5)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty expression"),
        ("1 +", "unexpected end"),
        ("(1 + 2", "not closed"),
        ("1 + 2)", "unexpected ')'"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("2 ** 0.5", "exponents must be integers"),
        ("2 ^ 3", "use ** for powers"),
        ("2 x 3", "use * to multiply"),
        ("abs(3)", "unexpected character 'a'"),
        ("1,23", "unexpected character ','"),
        ("__import__('os')", "unexpected character '_'"),
        ("10**16", "larger than"),
        ("2 ** 65", "outside -64..64"),
        ("9999999999999999", "larger than"),
        ("0.0000000000000001", "15 decimal places"),
        ("1 2", "unexpected number"),
    ],
)
def test_errors_name_the_problem(expression: str, message: str) -> None:
    result = calculator(expression)
    assert result.startswith("error: ")
    assert message in result, result
    with pytest.raises(CalculatorError):
        evaluate(expression)


def test_non_string_is_an_error_not_an_exception() -> None:
    assert calculator(12).startswith("error: expression must be a string")  # type: ignore[arg-type]


HOSTILE = {
    "tower of powers": "9**9**9",
    "huge power": "2**99999999999",
    "10,000 nested parentheses": "(" * 10_000 + "1" + ")" * 10_000,
    "nesting within the length limit": "(" * 90 + "1" + ")" * 90,
    "a million minus signs": "-" * 1_000_000 + "1",
    "one megabyte": "1+" * 500_000 + "1",
    "fullwidth digits": "\uff11\uff12 * \uff13",
    "arabic-indic digits": "\u0661\u0662 + 1",
    "rtl mark": "1 + \u200f2",
    "nul": "1\x00 + 2",
    "lone surrogate": "1 + \ud800",
    "superscript two": "3\u00b2",
    "many tokens": "1+" * 99 + "1",
    "long digits": "9" * 150,
    "repeated exponent": "(2**60)**60",
    "tiny power": "(1/7)**60",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_an_error_string_in_under_a_tenth_of_a_second(name: str) -> None:
    start = time.perf_counter()
    result = calculator(HOSTILE[name])
    elapsed = time.perf_counter() - start
    assert result.startswith("error: "), result
    assert elapsed < 0.1
    assert result.isascii() and result.isprintable()


def test_depth_and_length_limits_sit_where_documented() -> None:
    assert calculator("(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)) == "1"
    assert "nested" in calculator("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    assert "characters long" in calculator("1" + " " * MAX_EXPRESSION_CHARS)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = calculator(text)
    assert result.startswith("error: ") or result == format_number(evaluate(text))


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet="0123456789+-*/%() .,", max_size=120))
def test_grammar_like_text_never_raises(text: str) -> None:
    result = calculator(text)
    assert result.startswith("error: ") or result == format_number(evaluate(text))
