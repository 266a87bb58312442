"""The host's side of judging, on hand-written harness records: no Docker, no harness."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.harness import SETUP_FAILED, SETUP_FAILED_EXIT
from sandbox.judge import (
    HarnessOptions,
    JudgedCase,
    assemble,
    build_request,
    frame,
    judge_case,
    limit_verdict,
    parse_records,
)
from sandbox.limits import Limits
from sandbox.problem import (
    AssertCase,
    AssertTests,
    Case,
    FunctionalCase,
    FunctionalTests,
    StdioCase,
    StdioTests,
    Tests,
)
from sandbox.results import (
    EXCERPT_CHARS,
    SUITE_PRIORITY,
    CaseResult,
    Verdict,
    suite_verdict,
)

LIMITS = Limits(time_limit_s=1.0)
OPTIONS = HarnessOptions(drop_uid=65534, scrub_dirs=("/tmp",), workdir="/tmp")
STDIO = StdioTests(public=[StdioCase(input="2 3\n", output="5")])
FUNCTIONAL = FunctionalTests(entry_point="f", public=[FunctionalCase(args=[1], expected=2)])
ASSERTS = AssertTests(entry_point="f", public=[AssertCase(code="assert f(1) == 2")])


def make_record(**overrides: Any) -> dict[str, Any]:
    """A raw record of a case that ran briefly and exited cleanly with no output."""
    record: dict[str, Any] = {
        "index": 0,
        "status": "exited",
        "exit_code": 0,
        "cpu_s": 0.01,
        "wall_s": 0.02,
        "max_rss_kb": 10240,
        "stdout": "",
        "stderr": "",
        "completed": False,
    }
    record.update(overrides)
    return record


def judge(record: dict[str, Any], tests: Tests, case: Case | None = None) -> CaseResult:
    return judge_case(record, JudgedCase(0, False, case or tests.public[0]), tests, LIMITS)


def error(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": "m", "frames": [], **extra}


# --- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [
        ({"status": "compile_error", "error": error("SyntaxError")}, Verdict.COMPILE_ERROR),
        ({"status": "skipped"}, Verdict.SKIPPED),
        ({"status": "output_limit"}, Verdict.OUTPUT_LIMIT),
        ({"status": "stderr_limit"}, Verdict.OUTPUT_LIMIT),
        ({"status": "wall_timeout", "cpu_s": 0.0}, Verdict.TIME_LIMIT),
        ({"cpu_s": 1.5, "wall_s": 0.1}, Verdict.TIME_LIMIT),
        ({"exit_code": -signal.SIGXCPU, "cpu_s": 0.9}, Verdict.TIME_LIMIT),
        ({"exit_code": 1, "error": error("MemoryError")}, Verdict.MEMORY_LIMIT),
        ({"exit_code": -signal.SIGKILL}, Verdict.MEMORY_LIMIT),
        ({}, None),
        ({"cpu_s": 1.0}, None),
        ({"exit_code": 1, "error": error("ValueError")}, None),
    ],
)
def test_limit_verdict(overrides: dict[str, Any], verdict: Verdict | None) -> None:
    assert limit_verdict(make_record(**overrides), LIMITS) is verdict


def test_cpu_time_decides_even_when_the_wall_clock_was_short() -> None:
    record = make_record(cpu_s=3.0, wall_s=0.5, stdout="5")
    assert judge(record, STDIO).verdict is Verdict.TIME_LIMIT


def test_a_limit_outranks_the_output() -> None:
    """Correct output printed before the program ran out of time is not accepted."""
    record = make_record(status="wall_timeout", stdout="5", exit_code=-signal.SIGKILL)
    assert judge(record, STDIO).verdict is Verdict.TIME_LIMIT


# --- outcomes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [
        ({"stdout": "5\n"}, Verdict.ACCEPTED),
        ({"stdout": "6\n"}, Verdict.WRONG_ANSWER),
        ({"stdout": "5\n", "exit_code": 1}, Verdict.RUNTIME_ERROR),
        ({"stdout": "5\n", "error": error("ValueError")}, Verdict.RUNTIME_ERROR),
    ],
)
def test_stdio_outcomes(overrides: dict[str, Any], verdict: Verdict) -> None:
    assert judge(make_record(**overrides), STDIO).verdict is verdict


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [
        ({"value": 2}, Verdict.ACCEPTED),
        ({"value": 3}, Verdict.WRONG_ANSWER),
        ({"value": 2.0}, Verdict.WRONG_ANSWER),
        ({}, Verdict.RUNTIME_ERROR),
        ({"exit_code": 1, "error": error("KeyError")}, Verdict.RUNTIME_ERROR),
        ({"value": 2, "exit_code": 3}, Verdict.RUNTIME_ERROR),
    ],
)
def test_functional_outcomes(overrides: dict[str, Any], verdict: Verdict) -> None:
    assert judge(make_record(**overrides), FUNCTIONAL).verdict is verdict


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [
        ({"completed": True}, Verdict.ACCEPTED),
        ({"exit_code": 1, "error": error("AssertionError")}, Verdict.WRONG_ANSWER),
        ({"exit_code": 1, "error": error("TypeError")}, Verdict.RUNTIME_ERROR),
        ({}, Verdict.RUNTIME_ERROR),  # exited (say with sys.exit(0)) before the tests ended
        ({"stdout": "PASSED", "exit_code": 0}, Verdict.RUNTIME_ERROR),
    ],
)
def test_assert_outcomes(overrides: dict[str, Any], verdict: Verdict) -> None:
    assert judge(make_record(**overrides), ASSERTS).verdict is verdict


# --- excerpts --------------------------------------------------------------------------------


def test_stdio_excerpts_are_cut_and_counted() -> None:
    long_input = "7 " * 400
    case = StdioCase(input=long_input, output="5")
    result = judge(make_record(stdout="x" * 600, stderr="warn\n", cpu_s=0.25), STDIO, case)
    assert result.input_chars == len(long_input)
    assert result.input_excerpt.startswith(long_input[:EXCERPT_CHARS])
    assert result.input_excerpt.endswith(f"... ({len(long_input) - EXCERPT_CHARS} more chars)")
    assert result.actual_chars == 600
    assert result.actual_excerpt.endswith("... (100 more chars)")
    assert result.expected_excerpt == "5"
    assert result.stderr_excerpt == "warn\n"
    assert result.time_s == 0.25
    assert result.memory_mb == 10.0


def test_functional_excerpts_show_the_call_and_json_values() -> None:
    case = FunctionalCase(args=[1, [2, 3]], kwargs={"x": "a"}, expected={"k": [1]})
    result = judge(make_record(value={"k": [2]}), FUNCTIONAL, case)
    assert result.verdict is Verdict.WRONG_ANSWER
    assert result.input_excerpt == '1, [2, 3], x="a"'
    assert result.input_chars == len(result.input_excerpt)
    assert result.expected_excerpt == '{"k": [1]}'
    assert result.actual_excerpt == '{"k": [2]}'
    assert result.actual_chars == len('{"k": [2]}')


def test_functional_without_a_value_shows_nothing_as_actual() -> None:
    result = judge(make_record(), FUNCTIONAL)
    assert result.actual_excerpt == ""
    assert result.actual_chars == 0


def test_assert_excerpts_come_from_the_failing_line_and_the_mismatch() -> None:
    frames = [{"line": 2, "function": "<module>", "code": "assert f(1) == 2"}]
    failure = error("AssertionError", frames=frames, actual="3", expected="2")
    case = AssertCase(code="x = 1\nassert f(1) == 2\n")
    result = judge(make_record(exit_code=1, error=failure), ASSERTS, case)
    assert result.verdict is Verdict.WRONG_ANSWER
    assert result.input_excerpt == "assert f(1) == 2"
    assert result.expected_excerpt == "2"
    assert result.actual_excerpt == "3"
    assert result.error is not None
    assert result.error.type == "AssertionError"
    assert result.error.frames[0].line == 2


def test_assert_without_frames_shows_the_whole_test() -> None:
    case = AssertCase(code="assert f(1) == 2\nassert f(2) == 3\n")
    result = judge(make_record(exit_code=1, error=error("NameError")), ASSERTS, case)
    assert result.input_excerpt == case.code
    assert result.expected_excerpt == ""
    assert result.actual_excerpt == ""


def test_nonsense_usage_never_makes_a_negative_time() -> None:
    result = judge(make_record(cpu_s=-5.0, max_rss_kb=-1, stdout="5"), STDIO)
    assert result.time_s == 0.0
    assert result.memory_mb == 0.0


# --- assembling a suite ----------------------------------------------------------------------


def test_a_missing_record_is_a_sandbox_error_never_the_programs() -> None:
    tests = StdioTests(
        public=[StdioCase(input="1", output="1")], hidden=[StdioCase(input="2", output="2")]
    )
    cases = [JudgedCase(0, False, tests.public[0]), JudgedCase(0, True, tests.hidden[0])]
    records = {0: make_record(stdout="1")}
    result = assemble(cases, records, tests, LIMITS, wall_s=0.5)
    assert [c.verdict for c in result.cases] == [Verdict.ACCEPTED, Verdict.SANDBOX_ERROR]
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert (result.passed, result.total, result.wall_s) == (1, 2, 0.5)
    assert result.cases[1].hidden is True
    assert result.cases[1].index == 0
    assert "no record" in result.cases[1].stderr_excerpt


def test_a_failed_sandbox_blames_every_case_on_itself() -> None:
    cases = [JudgedCase(i, False, STDIO.public[0]) for i in range(3)]
    result = assemble(cases, {}, STDIO, LIMITS, wall_s=0.0, detail="docker went away")
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert result.passed == 0
    assert result.detail == "docker went away"
    assert all(c.stderr_excerpt == "docker went away" for c in result.cases)


def test_records_are_matched_by_position_in_the_request() -> None:
    tests = StdioTests(public=[StdioCase(input=str(i), output=str(i)) for i in range(3)])
    cases = [JudgedCase(i, False, c) for i, c in enumerate(tests.public)]
    records = {i: make_record(index=i, stdout=str(i)) for i in (2, 0, 1)}
    result = assemble(cases, records, tests, LIMITS, wall_s=0.1)
    assert result.verdict is Verdict.ACCEPTED
    assert result.passed == 3


def case_result(verdict: Verdict) -> CaseResult:
    return CaseResult(index=0, verdict=verdict)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], Verdict.SANDBOX_ERROR),
        ([Verdict.ACCEPTED], Verdict.ACCEPTED),
        ([Verdict.ACCEPTED, Verdict.ACCEPTED], Verdict.ACCEPTED),
        ([Verdict.ACCEPTED, Verdict.SKIPPED], Verdict.WRONG_ANSWER),
        ([Verdict.WRONG_ANSWER, Verdict.TIME_LIMIT], Verdict.TIME_LIMIT),
        ([Verdict.TIME_LIMIT, Verdict.RUNTIME_ERROR], Verdict.RUNTIME_ERROR),
        ([Verdict.RUNTIME_ERROR, Verdict.SANDBOX_ERROR], Verdict.SANDBOX_ERROR),
    ],
)
def test_suite_verdict_examples(verdicts: list[Verdict], expected: Verdict) -> None:
    assert suite_verdict([case_result(v) for v in verdicts]) is expected


@given(st.lists(st.sampled_from(list(Verdict)), min_size=1, max_size=8))
def test_suite_verdict_takes_the_highest_priority_failure(verdicts: list[Verdict]) -> None:
    result = suite_verdict([case_result(v) for v in verdicts])
    failures = [v for v in verdicts if v is not Verdict.ACCEPTED]
    if not failures:
        assert result is Verdict.ACCEPTED
    elif ranked := [v for v in SUITE_PRIORITY if v in failures]:
        assert result is ranked[0]
    else:
        assert result is Verdict.WRONG_ANSWER  # skipped cases alone still fail the suite


# --- the request and the records -------------------------------------------------------------


def split_frames(data: bytes) -> list[dict[str, Any]]:
    """The request's frames, decoded; asserts that nothing trails them."""
    frames = []
    while data:
        header, _, rest = data.partition(b"\n")
        size = int(header)
        frames.append(json.loads(rest[:size]))
        data = rest[size:]
    return frames


# Inputs are drawn from lowercase text and small numbers; every expected output carries
# upper-case markers, which neither the inputs nor the header's keys and values can contain.
input_text = st.text(alphabet="abc xyz\n0123456789", max_size=30)
marker = st.text(alphabet="QXZJ", min_size=6, max_size=12).map(lambda s: "EXPECTED" + s)
json_input = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-999, 999), input_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(input_text, inner, max_size=3),
    max_leaves=8,
)
json_expected = st.one_of(
    marker,
    st.lists(marker, min_size=1, max_size=3),
    st.dictionaries(marker, json_input, min_size=1, max_size=3),
)
PROGRAM = "print(input())\n"


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *all_strings(v)]]
    return []


@given(st.lists(st.tuples(input_text, marker), min_size=1, max_size=5))
def test_stdio_request_never_carries_expected_outputs(pairs: list[tuple[str, str]]) -> None:
    tests = StdioTests(public=[StdioCase(input=i, output=o) for i, o in pairs])
    cases = [JudgedCase(n, False, c) for n, c in enumerate(tests.public)]
    request = build_request(PROGRAM, tests, cases, LIMITS, OPTIONS)
    for _, output in pairs:
        assert output.encode() not in request
    header, *payloads = split_frames(request)
    assert header["n_cases"] == len(pairs)
    assert payloads == [{"input": i} for i, _ in pairs]


@given(
    st.lists(
        st.tuples(st.lists(json_input, max_size=3), json_expected),
        min_size=1,
        max_size=4,
    )
)
def test_functional_request_never_carries_expected_values(
    calls: list[tuple[list[Any], Any]],
) -> None:
    public = [FunctionalCase(args=args, expected=expected) for args, expected in calls]
    tests = FunctionalTests(entry_point="f", public=public)
    cases = [JudgedCase(n, False, c) for n, c in enumerate(public)]
    request = build_request("def f(*a):\n    return a\n", tests, cases, LIMITS, OPTIONS)
    for _, expected in calls:
        assert json.dumps(expected).encode() not in request
        for text in all_strings(expected):
            if text.startswith("EXPECTED"):
                assert text.encode() not in request
    _, *payloads = split_frames(request)
    assert payloads == [{"args": args, "kwargs": {}} for args, _ in calls]


def test_the_header_carries_the_limits_and_the_backends_options() -> None:
    cases = [JudgedCase(0, False, ASSERTS.public[0])]
    header, payload = split_frames(build_request("x = 1", ASSERTS, cases, LIMITS, OPTIONS))
    assert header["kind"] == "assert"
    assert header["entry_point"] == "f"
    assert header["program"] == "x = 1"
    assert header["time_limit_s"] == LIMITS.time_limit_s
    assert header["drop_uid"] == 65534
    assert header["scrub_dirs"] == ["/tmp"]
    assert payload == {"code": "assert f(1) == 2"}  # assert code is the test itself


def test_records_round_trip_through_parse_records() -> None:
    sent = [make_record(index=i, stdout=f"line {i}\n") for i in range(3)]
    closing = {"done": True, "clean_before": True, "clean_after": True}
    lines = [json.dumps(r) for r in sent]
    stdout = "\n".join(["noise", lines[0], "[1, 2]", lines[2], lines[1], json.dumps(closing)])
    records, done = parse_records(stdout.encode())
    assert records == {r["index"]: r for r in sent}
    assert done == closing


def test_parse_records_without_a_closing_record() -> None:
    truncated = json.dumps(make_record()) + "\n" + '{"index": 1, "stat'
    records, done = parse_records(truncated.encode())
    assert list(records) == [0]
    assert done is None


def test_parse_records_ignores_a_fake_closing_record_without_done_true() -> None:
    records, done = parse_records(b'{"done": "yes"}\n{"index": "0"}\n\xff\xfe\n')
    assert records == {}
    assert done is None


def test_frame_is_length_prefixed_json() -> None:
    data = frame({"a": "é"})
    header, _, body = data.partition(b"\n")
    assert int(header) == len(body)
    assert json.loads(body) == {"a": "é"}


# --- the harness's own failures ----------------------------------------------------------------


def test_a_case_the_harness_could_not_set_up_is_a_sandbox_error() -> None:
    record = make_record(exit_code=SETUP_FAILED_EXIT, stderr=f"{SETUP_FAILED}: EPERM\n")
    assert judge(record, STDIO).verdict is Verdict.SANDBOX_ERROR


def test_the_same_exit_code_without_the_harness_marker_is_the_program_s() -> None:
    record = make_record(exit_code=SETUP_FAILED_EXIT, stderr="Traceback ...\n")
    assert judge(record, STDIO).verdict is Verdict.RUNTIME_ERROR
