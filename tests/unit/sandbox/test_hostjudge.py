"""Host-judged asserts decide what Python decides: a differential property test.

Generated tests run against a program with state (calls that return one shared list and change
it later, counters, calls that raise), once as Python runs them (program and test in one
namespace) and once as the judge does (compiled for the host, the program's side run by the
harness's own step runner, checks on the host). Where the test compiles for the host, both
verdicts agree: passed, failed (AssertionError) or error (any other exception).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.asserts import compile_assert
from sandbox.hostjudge import judge_checks
from tests.unit.sandbox.test_asserts import run_probes

PROGRAM = """
SHARED = []
COUNT = [0]
def push(x):
    SHARED.append(x)
    return SHARED
def get():
    return SHARED
def copy():
    return list(SHARED)
def bump(x):
    COUNT[0] += x
    return COUNT[0]
def boom(x):
    if x % 2:
        raise ValueError(x)
    return x
def clear():
    SHARED.clear()
    return 0
def nothing():
    return None
"""

small = st.integers(0, 3)
lists = st.lists(small, max_size=3).map(repr)
names = st.sampled_from(["r0", "r1"])
CALLS = ["push({a})", "get()", "copy()", "bump({a})", "boom({a})", "clear()", "nothing()"]
calls = st.sampled_from(CALLS)
STATEMENTS = [
    "{name} = {call}",
    "_ = {call}",
    "assert {call} == {value}",
    "assert {call} != {value}",
    "assert {call} == {call2}",
    "assert {name} == {value}",
    "assert {name} == {call2}",
    "assert len({call}) == {a}",
    "assert sorted({call}) == {value} and {call2} == {value2}",
    "assert not ({call} == {value} or {call2} == {value2})",
    "assert {a} <= {call} < {b}",
    "assert [{call}, {call2}] == [{value}, {value2}]",
    "assert {call}",
    "assert not {call}",
    "assert {call} is None or {call2} == {value}",
    "assert {call} or {call2} == {value}",
    "assert {value} in {call}",
]


@st.composite
def statements(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(STATEMENTS))
    call, call2 = draw(calls), draw(calls)
    fields = {
        "a": draw(small),
        "b": draw(small),
        "name": draw(names),
        "value": draw(lists | small.map(str)),
        "value2": draw(lists | small.map(str)),
    }
    return template.format(call=call.format(**fields), call2=call2.format(a=draw(small)), **fields)


def python_verdict(test: str) -> str:
    namespace: dict[str, Any] = {}
    exec(PROGRAM, namespace)
    try:
        exec(test, namespace)
    except AssertionError:
        return "failed"
    except Exception:  # the program's or the test's own error, as Python raised it
        return "error"
    return "passed"


def host_verdict(test: str) -> str | None:
    plan = compile_assert(test, None)
    if plan is None:
        return None  # judged in the sandbox, which runs the test whole
    namespace: dict[str, Any] = {}
    exec(PROGRAM, namespace)
    outcome = judge_checks(plan, run_probes(plan, namespace))
    if outcome.status == "error" and (outcome.error or {}).get("type") == "AssertionError":
        return "failed"
    return outcome.status


@settings(max_examples=400)
@given(st.lists(statements(), min_size=1, max_size=5))
def test_the_host_decides_what_python_decides(lines: list[str]) -> None:
    test = "r0 = get()\nr1 = copy()\n" + "\n".join(lines)
    host = host_verdict(test)
    if host is not None:
        assert host == python_verdict(test), test


def test_every_statement_shape_but_a_skippable_call_is_judged_on_the_host() -> None:
    """The property compares something: its shapes compile for the host, except the one
    where Python could skip a call and go on."""
    fields = {"call": "push(1)", "call2": "get()", "name": "r0", "value": "[1]", "a": 0}
    left = [
        template
        for template in STATEMENTS
        if compile_assert(template.format(**fields, value2="[1]", b=2) + "\nassert get()", None)
        is None
    ]
    assert left == [
        "assert {call} is None or {call2} == {value}",
        "assert {call} or {call2} == {value}",
    ]


def test_a_value_changed_after_its_probe_is_compared_as_changed() -> None:
    """The aliasing the property covers, pinned: `r` is the shared list, changed by a later
    call before the assert reads it."""
    test = "r = push(1)\n_ = push(2)\nassert r == [1, 2]"
    assert python_verdict(test) == host_verdict(test) == "passed"
    test = "assert push(1) == push(2)"
    assert python_verdict(test) == host_verdict(test) == "passed"


def test_a_failing_call_no_assert_names_fails_the_test() -> None:
    test = "unused = boom(1)\nassert get() == []"
    assert python_verdict(test) == host_verdict(test) == "error"


def test_a_call_python_would_skip_is_left_to_the_sandbox() -> None:
    """The sandbox runs every probe; Python skips `push(1)` here and the next assert passes,
    so the host cannot judge this test."""
    test = "assert nothing() is None or push(1) == [1]\nassert get() == []"
    assert python_verdict(test) == "passed"
    assert compile_assert(test, None) is None
