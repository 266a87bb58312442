"""Matching a program's output against the expected one (see docs/sandbox.md).

Stdio outputs (`outputs_match`):
- `exact`: equal after normalizing line endings to `\\n`, stripping trailing whitespace on each
  line and dropping trailing blank lines. Leading whitespace and inner blank lines count.
- `tokens`: the whitespace-separated tokens are equal (line structure is ignored).
- `float`: tokens as above, but two numeric tokens may differ by the tolerances:
  - two integer literals (`[+-]?digits`, any size) compare exactly as integers;
  - any other pair of numbers compares with `math.isclose` semantics, in exact decimal
    arithmetic, so `2` matches `2.0000000001` and `1e400` matches `1.0000000001e400`;
  - a literal that overflows a float stays finite: `1e400` never matches `inf`;
  - `nan` matches only `nan`, and `inf` only an `inf` of the same sign (case-insensitive);
  - anything else (words, hex, `1_000`, exponents beyond `MAX_EXPONENT`) must be equal as text.

Functional values (`values_match`), compared structurally, never through `__eq__` of the
program's objects: lists in order, dict keys exact, `bool` is never a number, `None` only
matches `None`. In `exact` and `tokens` modes an `int` matches only an equal `int` and a `float`
only an equal `float` (`nan` matches `nan`). In `float` mode numbers follow the stdio rules:
two ints exactly, an int and a float (or two floats) with the tolerances, so an expected `2.0`
matches an actual `2` (JSON written by JavaScript drops the `.0`).
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass

from pydantic import JsonValue

from sandbox.problem import Compare, CompareMode

_INT_TOKEN = re.compile(r"[+-]?[0-9]+")
# Each part is unambiguous (`[0-9]+(?:\.[0-9]*)?`, never `[0-9]+\.?[0-9]*`), so a match costs
# time linear in the token: a megabyte of digits ending in a letter cannot backtrack.
_FINITE_TOKEN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMBER_CHARS = "0123456789.eE+-"
_SPECIAL_TOKEN = re.compile(r"([+-]?)(inf|infinity|nan)", re.IGNORECASE)

# Wide exponents so that no literal overflows, no traps so that nothing raises; the precision
# only bounds the rounding of a difference, which the tolerances dwarf.
_CONTEXT = decimal.Context(prec=60, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])
# Beyond this decimal exponent a literal is compared as text: no rounding can then underflow or
# overflow the context, and absurd exponents cost nothing.
MAX_EXPONENT = 1_000_000


@dataclass(frozen=True)
class _Number:
    """A parsed numeric token or value: exact when `is_int`, else a decimal (maybe nan/inf)."""

    value: decimal.Decimal
    is_int: bool


def outputs_match(expected: str, actual: str, compare: Compare) -> bool:
    """True when a stdio program's `actual` output matches `expected` under `compare`."""
    if compare.mode is CompareMode.EXACT:
        return _exact_lines(expected) == _exact_lines(actual)
    expected_tokens, actual_tokens = expected.split(), actual.split()
    if compare.mode is CompareMode.TOKENS or len(expected_tokens) != len(actual_tokens):
        return expected_tokens == actual_tokens
    pairs = zip(expected_tokens, actual_tokens, strict=True)
    return all(_tokens_close(left, right, compare) for left, right in pairs)


def values_match(expected: JsonValue, actual: JsonValue, compare: Compare) -> bool:
    """True when a functional program's returned JSON value matches `expected` under `compare`."""
    # An explicit stack, so that a deeply nested value from the program cannot overflow ours.
    stack: list[tuple[JsonValue, JsonValue]] = [(expected, actual)]
    while stack:
        left, right = stack.pop()
        if isinstance(left, list | dict) or isinstance(right, list | dict):
            pairs = _child_pairs(left, right)
            if pairs is None:
                return False
            stack.extend(pairs)
        elif not _leaves_match(left, right, compare):
            return False
    return True


def _exact_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens_close(expected: str, actual: str, compare: Compare) -> bool:
    if expected == actual:
        return True
    left, right = _parse_token(expected), _parse_token(actual)
    if left is None or right is None:
        return False
    return _numbers_close(left, right, compare)


def _parse_token(token: str) -> _Number | None:
    if token.strip(_NUMBER_CHARS):  # some other character: only inf or nan can still match
        return _special(token)
    if _INT_TOKEN.fullmatch(token):
        return _Number(decimal.Decimal(token), is_int=True)
    if _FINITE_TOKEN.fullmatch(token):
        return _finite(token)
    return None


def _special(token: str) -> _Number | None:
    special = _SPECIAL_TOKEN.fullmatch(token)
    if special is None:
        return None
    sign, word = special.groups()
    return _Number(decimal.Decimal(sign + ("nan" if word.lower() == "nan" else "inf")), False)


def _finite(token: str) -> _Number | None:
    try:
        value = decimal.Decimal(token)
    except decimal.InvalidOperation:  # an exponent beyond what decimal can hold
        return None
    return _Number(value, is_int=False) if abs(value.adjusted()) <= MAX_EXPONENT else None


def _numbers_close(left: _Number, right: _Number, compare: Compare) -> bool:
    a, b = left.value, right.value
    if left.is_int and right.is_int:
        return a == b
    if a.is_nan() or b.is_nan():
        return a.is_nan() and b.is_nan()
    if a.is_infinite() or b.is_infinite():
        return a == b
    difference = _CONTEXT.abs(_CONTEXT.subtract(a, b))
    scale = _CONTEXT.max(_CONTEXT.abs(a), _CONTEXT.abs(b))
    rel_bound = _CONTEXT.multiply(_CONTEXT.create_decimal_from_float(compare.rel_tol), scale)
    return difference <= max(rel_bound, _CONTEXT.create_decimal_from_float(compare.abs_tol))


def _child_pairs(left: JsonValue, right: JsonValue) -> list[tuple[JsonValue, JsonValue]] | None:
    """The pairs to compare below two containers, or None when their shapes differ."""
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return list(zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict) and left.keys() == right.keys():
        return [(value, right[key]) for key, value in left.items()]
    return None


def _leaves_match(left: JsonValue, right: JsonValue, compare: Compare) -> bool:
    left_number, right_number = _as_number(left), _as_number(right)
    if left_number is None or right_number is None:
        # `type(...) is` keeps `True` from matching `1`; both are leaves that are not numbers.
        return type(left) is type(right) and left == right
    if compare.mode is CompareMode.FLOAT:
        return _numbers_close(left_number, right_number, compare)
    if left_number.is_int != right_number.is_int:
        return False
    return left == right or (left_number.value.is_nan() and right_number.value.is_nan())


def _as_number(value: JsonValue) -> _Number | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _Number(decimal.Decimal(value), is_int=isinstance(value, int))
