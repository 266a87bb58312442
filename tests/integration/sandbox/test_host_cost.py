"""Host-judged asserts cost what the host's budgets allow, never what the program sizes.

A matrix over the class, through both real backends: every value a program can size (lazy
ranges, Decimals with huge exponents or digits, integers of millions of bits, many nested
lists) against every host operation a compiled check can apply to it. Each run ends as the
program's failure (never accepted, never a sandbox error, never an exception out of the judge),
and honest values of the same types are still judged right.
"""

from __future__ import annotations

import pytest

from sandbox import Problem, Sandbox, Verdict

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

# What `f()` returns: each sized by the program far past what the host will hold.
HOSTILE_VALUES = {
    "astronomic_range": "range(10 ** 18)",
    "range_past_maxsize": "range(-10 ** 30, 10 ** 30)",
    "decimal_exponent": "__import__('decimal').Decimal('1e999999999')",
    "decimal_digits": "__import__('decimal').Decimal('9' * 5000)",
    "integer_of_two_million_bits": "1 << 2_000_000",
    "many_lists": "[[0]] * 40_000",
}
# What the host-compiled check does with it; every one would hang or exhaust the host if
# the value arrived as the program sized it.
OPERATIONS = {
    "compare": "assert f() == 5",
    "sum": "assert sum(f()) == 5",
    "sum_of_lists": "assert sum(f(), []) == [0]",
    "list": "assert list(f()) == [5]",
    "sorted": "assert sorted(f()) == [5]",
    "set": "assert len(set(f())) == 1",
    "int": "assert int(f()) == 5",
    "round": "assert round(f(), 2) == 5",
    "arithmetic": "assert abs(f() - 5) < 1e-9",
    "max": "assert max(f()) == 5",
}


def assert_problem(code: str) -> Problem:
    return Problem.model_validate(
        {
            "title": "t",
            "statement": "s",
            "memory_limit_mb": 128,
            "tests": {"kind": "assert", "entry_point": "f", "public": [{"code": code}]},
        }
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("value", sorted(HOSTILE_VALUES))
def test_hostile_values_are_the_programs_failure(any_sandbox: Sandbox, value: str) -> None:
    program = f"def f():\n    return {HOSTILE_VALUES[value]}\n"
    for operation, code in OPERATIONS.items():
        result = any_sandbox.run_suite(program, assert_problem(code))
        assert result.cases[0].judged == "host"
        assert result.verdict in (Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR), (operation, result)


HONEST = [
    ("range(3)", "assert list(f()) == [0, 1, 2] and sum(f()) == 3 and f() == range(0, 3)"),
    ("__import__('decimal').Decimal('1.25')", "assert float(f()) == 1.25 and int(f()) == 1"),
    ("1 << 1000", "assert f() % 7 == 2 and f() // f() == 1 and f() - f() == 0"),
    ("[[1], [2]]", "assert sorted(f()) == [[1], [2]] and max(f()) == [2]"),
]


@pytest.mark.parametrize(("value", "code"), HONEST)
def test_honest_values_of_the_same_types_are_judged(
    any_sandbox: Sandbox, value: str, code: str
) -> None:
    result = any_sandbox.run_suite(f"def f():\n    return {value}\n", assert_problem(code))
    assert result.cases[0].judged == "host"
    assert result.verdict is Verdict.ACCEPTED, result
