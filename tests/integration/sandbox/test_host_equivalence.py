"""Host-judged asserts decide what Python decides, through both real backends.

The program keeps state (one shared list it returns and changes later, a counter, a call that
raises); each test is judged by the sandbox and by Python itself (program and test in one
namespace), and the verdicts must agree: accepted = passed, wrong answer = an AssertionError,
runtime error = any other exception. The shapes cover the class: values changed after their
probe (through assignments, within one assert, inside displays), calls whose result no assert
names, and calls Python would skip.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import Problem, Sandbox, Verdict
from tests.unit.sandbox.test_hostjudge import PROGRAM, python_verdict

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

TESTS = [
    # a value changed after its probe, before Python compares it
    "r = push(1)\n_ = push(2)\nassert r == [1, 2]",
    "r = push(1)\n_ = push(2)\nassert r == [1]",
    "assert push(1) == push(2)",
    "assert get() == [] and push(1) == [1] and get() == [1]",
    "assert [get(), push(3)] == [[3], [3]]",
    "r = get()\n_ = clear()\n_ = push(5)\nassert sorted(r) == [5]",
    "assert 0 < bump(1) < 2\nassert bump(1) == 2",
    # a call whose result no assert names, failing
    "unused = boom(1)\nassert get() == []",
    "assert get() == []\nlast = boom(3)",
    "r = boom(2)\nassert r == 2",
    # a call Python would skip, with the test going on: judged in the sandbox
    "assert nothing() is None or push(1) == [1]\nassert get() == []",
    "assert not (get() == [] and boom(1))",
]
VERDICTS = {
    "passed": Verdict.ACCEPTED,
    "failed": Verdict.WRONG_ANSWER,
    "error": Verdict.RUNTIME_ERROR,
}


def problem(code: str) -> Problem:
    tests: dict[str, Any] = {"kind": "assert", "entry_point": "push", "public": [{"code": code}]}
    return Problem.model_validate({"title": "t", "statement": "s", "tests": tests})


@pytest.mark.parametrize("code", TESTS)
def test_the_sandbox_decides_what_python_decides(any_sandbox: Sandbox, code: str) -> None:
    result = any_sandbox.run_suite(PROGRAM, problem(code))
    assert result.verdict is VERDICTS[python_verdict(code)], (code, result.cases[0])
