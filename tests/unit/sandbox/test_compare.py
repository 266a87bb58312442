"""Output and value comparison: the documented semantics of each mode, and their properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import compare as compare_module
from sandbox.compare import outputs_match, values_match
from sandbox.problem import Compare, CompareMode

EXACT = Compare(mode=CompareMode.EXACT)
TOKENS = Compare(mode=CompareMode.TOKENS)
FLOAT = Compare(mode=CompareMode.FLOAT)
MODES = [EXACT, TOKENS, FLOAT]

printable = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
number_token = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e400", "inf", "-inf", "nan", "NaN", "1.", ".5", "0", "-0"]),
)
token_text = st.lists(st.one_of(number_token, st.from_regex(r"[a-z]{1,4}", fullmatch=True)))
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


# --- exact -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("1 2\n3\n", "1 2\n3"),
        ("1 2\n3\n", "1 2   \n3\t\n\n\n"),
        ("a\r\nb\r\n", "a\nb\n"),
        ("", "\n\n  \n"),
    ],
)
def test_exact_ignores_trailing_whitespace_and_blank_lines(expected: str, actual: str) -> None:
    assert outputs_match(expected, actual, EXACT)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [("1 2\n", "1  2\n"), ("1\n2\n", "1 2\n"), ("a\n\nb\n", "a\nb\n"), (" a\n", "a\n")],
)
def test_exact_keeps_inner_and_leading_whitespace(expected: str, actual: str) -> None:
    assert not outputs_match(expected, actual, EXACT)
    assert outputs_match(expected, actual, TOKENS)


# --- tokens ----------------------------------------------------------------------------------


def test_tokens_ignore_layout_but_not_values() -> None:
    assert outputs_match("1 2\n3\n", "1\n2 3", TOKENS)
    assert not outputs_match("1 2 3", "1 2 3 4", TOKENS)
    assert not outputs_match("1.0", "1", TOKENS)


# --- float -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("3.141592653589793", "3.141593"),
        ("2.0", "2"),
        ("2", "2.0000001"),
        ("0.0", "0.0000000001"),
        ("1e400", "1.0000000001e400"),
        ("nan", "NaN"),
        ("inf", "Infinity"),
        ("-inf", "-INF"),
        ("007", "7"),
        ("-0", "0"),
        ("yes 1.5", "yes 1.5000001"),
    ],
)
def test_float_accepts(expected: str, actual: str) -> None:
    assert outputs_match(expected, actual, FLOAT)
    assert outputs_match(actual, expected, FLOAT)


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (str(10**30), str(10**30 + 1)),
        ("1" * 5000, "1" * 4999 + "2"),
        ("3", "4"),
        ("3.0", "3.1"),
        ("1e400", "inf"),
        ("-1e400", "-inf"),
        ("inf", "-inf"),
        ("nan", "0"),
        ("nan", "inf"),
        ("1_000", "1000"),
        ("0x10", "16"),
        ("yes", "no"),
        ("1", "1 2"),
    ],
)
def test_float_rejects(expected: str, actual: str) -> None:
    assert not outputs_match(expected, actual, FLOAT)
    assert not outputs_match(actual, expected, FLOAT)


def test_float_tolerances_come_from_compare() -> None:
    loose = Compare(mode=CompareMode.FLOAT, rel_tol=0.1, abs_tol=0.0)
    strict = Compare(mode=CompareMode.FLOAT, rel_tol=0.0, abs_tol=0.0)
    assert outputs_match("1.0", "1.05", loose)
    assert not outputs_match("1.0", "1.2", loose)
    assert not outputs_match("1.0", "1.0000000001", strict)
    assert outputs_match("1.0", "1.000", strict)


def test_absurd_exponents_compare_as_text_without_hanging() -> None:
    huge = "1e999999999999999999999"
    assert outputs_match(huge, huge, FLOAT)
    assert not outputs_match(huge, "2e999999999999999999999", FLOAT)
    assert not outputs_match("1e5000000", "1.0e5000000", FLOAT)


# --- properties ------------------------------------------------------------------------------


@given(text=printable)
def test_every_mode_is_reflexive(text: str) -> None:
    for compare in MODES:
        assert outputs_match(text, text, compare)


@given(tokens=token_text)
def test_float_is_reflexive_on_numbers(tokens: list[str]) -> None:
    assert outputs_match(" ".join(tokens), "\n".join(tokens), FLOAT)


@given(left=printable, right=printable)
def test_every_mode_is_symmetric(left: str, right: str) -> None:
    for compare in MODES:
        assert outputs_match(left, right, compare) == outputs_match(right, left, compare)


@given(left=token_text, right=token_text)
def test_float_is_symmetric_on_numbers(left: list[str], right: list[str]) -> None:
    a, b = " ".join(left), " ".join(right)
    assert outputs_match(a, b, FLOAT) == outputs_match(b, a, FLOAT)


@given(left=printable, right=printable)
def test_exact_implies_tokens_implies_float(left: str, right: str) -> None:
    if outputs_match(left, right, EXACT):
        assert outputs_match(left, right, TOKENS)
    if outputs_match(left, right, TOKENS):
        assert outputs_match(left, right, FLOAT)


@given(lines=st.lists(st.from_regex(r"[^\s]([^\n]*[^\s])?", fullmatch=True), max_size=6))
def test_exact_ignores_trailing_spaces_and_line_endings(lines: list[str]) -> None:
    clean = "\n".join(lines)
    noisy = "\r\n".join(line + " \t" for line in lines) + "\n\n"
    assert outputs_match(clean, noisy, EXACT)


@given(tokens=st.lists(st.from_regex(r"\S+", fullmatch=True), max_size=8), data=st.data())
def test_tokens_ignore_any_whitespace_between_tokens(
    tokens: list[str], data: st.DataObject
) -> None:
    separators = data.draw(
        st.lists(
            st.sampled_from([" ", "\n", "\t", "  \r\n"]), min_size=len(tokens), max_size=len(tokens)
        )
    )
    spaced = "".join(token + sep for token, sep in zip(tokens, separators, strict=True))
    assert outputs_match(" ".join(tokens), "\n" + spaced, TOKENS)


@given(value=st.integers(min_value=-(10**40), max_value=10**40), delta=st.integers(1, 10**6))
def test_integers_are_never_tolerance_compared(value: int, delta: int) -> None:
    loose = Compare(mode=CompareMode.FLOAT, rel_tol=1.0, abs_tol=1.0)
    assert not outputs_match(str(value), str(value + delta), loose)
    assert not values_match(value, value + delta, loose)


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compare", MODES)
def test_values_are_strict_on_shape_and_type(compare: Compare) -> None:
    assert values_match([1, [2, {"a": None}]], [1, [2, {"a": None}]], compare)
    assert not values_match([1, 2], [2, 1], compare)
    assert not values_match([1, 2], [1, 2, 3], compare)
    assert not values_match({"a": 1}, {"a": 1, "b": 2}, compare)
    assert not values_match({"a": 1}, {"b": 1}, compare)
    assert not values_match(True, 1, compare)
    assert not values_match(1, True, compare)
    assert not values_match(0, False, compare)
    assert not values_match(None, 0, compare)
    assert not values_match("1", 1, compare)
    assert not values_match([1], {"0": 1}, compare)
    assert not values_match([], None, compare)


def test_values_int_and_float_differ_except_in_float_mode() -> None:
    assert not values_match(2.0, 2, EXACT)
    assert not values_match(2, 2.0, TOKENS)
    assert values_match(2.0, 2, FLOAT)
    assert values_match(2, 2.0, FLOAT)
    assert values_match([0.1 + 0.2], [0.3], FLOAT)
    assert not values_match([0.1 + 0.2], [0.3], EXACT)
    assert not values_match(10**30, 10**30 + 1, FLOAT)
    assert values_match(10**30, 1e30, FLOAT)


def test_values_special_floats() -> None:
    for compare in MODES:
        assert values_match(math.nan, math.nan, compare)
        assert not values_match(math.nan, 0.0, compare)
        assert values_match(math.inf, math.inf, compare)
        assert not values_match(math.inf, -math.inf, compare)
        assert not values_match(math.inf, 1e308, compare)


def test_values_survive_deep_nesting() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert values_match(deep, deep, EXACT)  # type: ignore[arg-type]


@given(value=json_value)
def test_values_reflexive(value: object) -> None:
    for compare in MODES:
        assert values_match(value, value, compare)  # type: ignore[arg-type]


@given(left=json_value, right=json_value)
def test_values_symmetric(left: object, right: object) -> None:
    for compare in MODES:
        forward = values_match(left, right, compare)  # type: ignore[arg-type]
        assert forward == values_match(right, left, compare)  # type: ignore[arg-type]


@given(left=json_value, right=json_value)
def test_values_exact_implies_float(left: object, right: object) -> None:
    if values_match(left, right, EXACT):  # type: ignore[arg-type]
        assert values_match(left, right, FLOAT)  # type: ignore[arg-type]


def _digits(token: str, i: int) -> int:
    """Where the run of ASCII digits starting at `i` ends."""
    while i < len(token) and token[i] in "0123456789":
        i += 1
    return i


def is_finite_literal(token: str) -> bool:
    """A hand-written reference for the float token grammar: [+-] (digits [. digits*] | . digits)
    [e [+-] digits], read left to right once."""
    i = 1 if token[:1] in ("+", "-") and token else 0
    end = _digits(token, i)
    whole = end > i
    if token[end : end + 1] == ".":
        after = _digits(token, end + 1)
        if not whole and after == end + 1:
            return False
        end = after
    elif not whole:
        return False
    if token[end : end + 1] in ("e", "E") and end < len(token):
        sign = (
            end + 2 if token[end + 1 : end + 2] in ("+", "-") and end + 1 < len(token) else end + 1
        )
        exponent_end = _digits(token, sign)
        if exponent_end == sign:
            return False
        end = exponent_end
    return end == len(token)


adversarial = st.text(alphabet="0123456789.eE+-x", max_size=40) | st.builds(
    lambda digits, tail: "1" * digits + tail,
    st.integers(0, 5000),
    st.sampled_from(["", "x", ".", "e", "e+", ".5e", "..", "1e5x"]),
)


@given(adversarial)
def test_the_float_token_pattern_is_the_reference_grammar(token: str) -> None:
    """The pattern that replaced a backtracking one accepts exactly the grammar's tokens."""
    assert bool(compare_module._FINITE_TOKEN.fullmatch(token)) == is_finite_literal(token)


@given(adversarial, adversarial)
def test_float_mode_never_raises_on_adversarial_tokens(left: str, right: str) -> None:
    floats = Compare(mode=CompareMode.FLOAT)
    assert outputs_match(left, left, floats)
    assert outputs_match(left, right, floats) == outputs_match(right, left, floats)


def test_a_megabyte_of_digits_is_compared_like_any_token() -> None:
    """The line that once kept a host busy for hours (its time is in benchmarks.sandbox)."""
    floats = Compare(mode=CompareMode.FLOAT)
    assert not outputs_match("1", "1" * 1_000_000 + "x", floats)
    assert outputs_match("1" * 1_000_000, "1" * 1_000_000 + ".0", floats)
