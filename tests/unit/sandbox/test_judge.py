"""The host's side of judging, on hand-written harness records: no Docker, no harness."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.asserts import compile_assert
from sandbox.harness import SETUP_FAILED_EXIT
from sandbox.hostjudge import judge_checks
from sandbox.judge import (
    REGISTRY,
    HarnessOptions,
    JudgedCase,
    assemble,
    build_request,
    frame,
    judge_case,
    judged_case,
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
from sandbox.protocol import encode_value
from sandbox.records import CaseRecord, Closing, parse_case, parse_report
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
# A loop is a shape the host does not compile: this case is judged in the sandbox.
SCRIPT = AssertTests(
    entry_point="f", public=[AssertCase(code="for _ in [0]:\n    assert f(1) == 2")]
)
TOKEN = "0123456789abcdef0123456789abcdef"


def raw_record(**overrides: Any) -> dict[str, Any]:
    """A harness record of a case that ran briefly and exited cleanly with no output.

    `value`, `error`, `completed` (the harness's token, or `True` for it) and `probes` (index ->
    value, or {"error": ...}) go into the case's report, as the case process writes them.
    """
    lines: list[dict[str, Any]] = []
    if "value" in overrides:
        lines.append({"value": overrides.pop("value")})
    if "error" in overrides:
        lines.append({"error": overrides.pop("error")})
    for index, outcome in overrides.pop("probes", {}).items():
        if isinstance(outcome, dict) and "error" in outcome:
            lines.append({"probe": index, **outcome})
        else:
            lines.append({"probe": index, "value": encode_value(outcome)})
    completed = overrides.pop("completed", None)
    if completed is not None:
        lines.append({"completed": TOKEN if completed is True else completed})
    record: dict[str, Any] = {
        "index": 0,
        "status": "exited",
        "exit_code": 0,
        "cpu_s": 0.01,
        "wall_s": 0.02,
        "max_rss_kb": 10240,
        "baseline_rss_kb": 0,
        "stdout": "",
        "stderr": "",
        "report": "".join(json.dumps(line) + "\n" for line in lines),
        "setup_error": "",
        "token": TOKEN if completed is not None else "",
    }
    record.update(overrides)
    return record


def make_record(**overrides: Any) -> CaseRecord:
    return parse_case(raw_record(**overrides), LIMITS)


def judge(record: CaseRecord, tests: Tests, case: Case | None = None) -> CaseResult:
    judged = judged_case(0, False, case or tests.public[0], tests.entry_point)
    return judge_case(record, judged, tests, LIMITS)


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
        # The peak less what the forked harness held, against the 256 MB default limit.
        ({"max_rss_kb": 300 * 1024, "baseline_rss_kb": 16 * 1024}, Verdict.MEMORY_LIMIT),
        ({"max_rss_kb": 270 * 1024, "baseline_rss_kb": 16 * 1024}, None),
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
        ({"completed": "f" * 32}, Verdict.RUNTIME_ERROR),  # not the token the harness issued
        ({"exit_code": 1, "error": error("AssertionError")}, Verdict.WRONG_ANSWER),
        ({"exit_code": 1, "error": error("TypeError")}, Verdict.RUNTIME_ERROR),
        ({}, Verdict.RUNTIME_ERROR),  # exited (say with sys.exit(0)) before the tests ended
        ({"stdout": "PASSED", "exit_code": 0}, Verdict.RUNTIME_ERROR),
    ],
)
def test_sandbox_judged_assert_outcomes(overrides: dict[str, Any], verdict: Verdict) -> None:
    result = judge(make_record(**overrides), SCRIPT)
    assert result.verdict is verdict
    assert result.judged == "sandbox"


@pytest.mark.parametrize(
    ("overrides", "verdict"),
    [
        ({"probes": {0: 2}}, Verdict.ACCEPTED),
        ({"probes": {0: 3}}, Verdict.WRONG_ANSWER),
        ({"probes": {0: 2.5}}, Verdict.WRONG_ANSWER),
        ({"probes": {0: {"error": error("AssertionError")}}}, Verdict.WRONG_ANSWER),
        ({"probes": {0: {"error": error("KeyError")}}}, Verdict.RUNTIME_ERROR),
        ({}, Verdict.RUNTIME_ERROR),  # the probe never reported
        ({"completed": True}, Verdict.RUNTIME_ERROR),  # no token passes a host-judged case
        ({"probes": {0: 2}, "cpu_s": 1.5}, Verdict.TIME_LIMIT),
        ({"probes": {0: 3}, "status": "wall_timeout"}, Verdict.WRONG_ANSWER),
        ({"status": "wall_timeout"}, Verdict.TIME_LIMIT),
    ],
)
def test_host_judged_assert_outcomes(overrides: dict[str, Any], verdict: Verdict) -> None:
    result = judge(make_record(**overrides), ASSERTS)
    assert result.verdict is verdict
    assert result.judged == "host"


def test_a_host_judged_failure_shows_the_assert_and_both_sides() -> None:
    result = judge(make_record(probes={0: [1, 2]}), ASSERTS)
    assert result.input_excerpt == "assert f(1) == 2"
    assert (result.actual_excerpt, result.expected_excerpt) == ("[1, 2]", "2")


def test_a_malformed_report_is_the_programs_fault() -> None:
    for report in ('{"probe": 0, "value": ["i", "zz"]}\n', "[1]\n", '{"value": 1}\n{"value": 2}\n'):
        record = parse_case(raw_record(report=report), LIMITS)
        assert record.malformed
        assert judge(record, ASSERTS).verdict is Verdict.RUNTIME_ERROR


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
    case = AssertCase(code="x = 1\nfor _ in [0]:\n    assert f(1) == 2\n")
    result = judge(make_record(exit_code=1, error=failure), SCRIPT, case)
    assert result.verdict is Verdict.WRONG_ANSWER
    assert result.input_excerpt == "assert f(1) == 2"
    assert result.expected_excerpt == "2"
    assert result.actual_excerpt == "3"
    assert result.error is not None
    assert result.error.type == "AssertionError"
    assert result.error.frames[0].line == 2


def test_assert_without_frames_shows_the_whole_test() -> None:
    case = AssertCase(code="for _ in [0]:\n    assert f(1) == 2\nassert f(2) == 3\n")
    result = judge(make_record(exit_code=1, error=error("NameError")), SCRIPT, case)
    assert result.input_excerpt == case.code
    assert result.expected_excerpt == ""
    assert result.actual_excerpt == ""


@pytest.mark.parametrize(
    "overrides",
    [
        {"cpu_s": -5.0},
        {"max_rss_kb": -1},
        {"cpu_s": float("nan")},
        {"cpu_s": 1},  # an int where the harness writes a float
        {"status": "accepted"},
        {"stdout": "x" * (LIMITS.output_limit_bytes + 1)},
        {"extra": True},
    ],
)
def test_a_record_of_the_wrong_shape_is_a_program_fault_not_a_crash(
    overrides: dict[str, Any],
) -> None:
    record = make_record(**{"stdout": "5", **overrides})
    assert record.malformed
    result = judge(record, STDIO)
    assert result.verdict is Verdict.RUNTIME_ERROR
    assert result.time_s == 0.0


# --- assembling a suite ----------------------------------------------------------------------


def test_a_missing_record_is_a_sandbox_error_never_the_programs() -> None:
    tests = StdioTests(
        public=[StdioCase(input="1", output="1")], hidden=[StdioCase(input="2", output="2")]
    )
    cases = [JudgedCase(0, False, tests.public[0]), JudgedCase(0, True, tests.hidden[0])]
    records = {0: make_record(stdout="1")}
    result = assemble(cases, records, tests, LIMITS, wall_s=0.5)
    finished = assemble(cases, records, tests, LIMITS, wall_s=0.5, finished=True)
    assert finished.cases[1].verdict is Verdict.RUNTIME_ERROR  # unreadable: the program's doing
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
    assert payloads == [{"frame": "stdio", "input": i} for i, _ in pairs]


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
    assert payloads == [{"frame": "call", "args": args, "kwargs": {}} for args, _ in calls]


def test_each_case_is_framed_as_its_kind_which_the_registry_names() -> None:
    cases = [STDIO.public[0], FUNCTIONAL.public[0], ASSERTS.public[0], SCRIPT.public[0]]
    kinds = [judged_case(0, False, c, "f").kind for c in cases]
    assert [type(kind) for kind in kinds] == list(REGISTRY.values())
    assert [kind.frame()["frame"] for kind in kinds] == list(REGISTRY)
    assert [kind.judged for kind in kinds] == ["host", "host", "host", "sandbox"]


def test_the_header_carries_the_limits_and_the_backends_options() -> None:
    cases = [judged_case(0, False, c, "f") for c in (ASSERTS.public[0], SCRIPT.public[0])]
    header, probes, script = split_frames(build_request("x = 1", ASSERTS, cases, LIMITS, OPTIONS))
    assert header["kind"] == "assert"
    assert header["entry_point"] == "f"
    assert header["program"] == "x = 1"
    assert header["case_wall_limit_s"] == LIMITS.case_wall_limit_s
    assert header["cpu_limit_s"] == LIMITS.cpu_rlimit_s
    assert header["drop_uid"] == 65534
    assert header["scrub_dirs"] == ["/tmp"]
    # A compiled assert sends only the program's side; the expected 2 stays on the host.
    assert probes == {"frame": "probes", "setup": "", "steps": [["f(1)", "", True, -1]]}
    assert script == {"frame": "script", "code": SCRIPT.public[0].code}


def test_records_round_trip_through_parse_records() -> None:
    sent = [raw_record(index=i, stdout=f"line {i}\n") for i in range(3)]
    closing = {"done": True, "clean_before": True, "clean_after": True}
    lines = [json.dumps(r) for r in sent]
    stdout = "\n".join(["noise", lines[0], "[1, 2]", lines[2], lines[1], json.dumps(closing)])
    records, done = parse_records(stdout.encode())
    assert records == {r["index"]: parse_case(r, LIMITS) for r in sent}
    assert done == Closing(clean_before=True, clean_after=True)


def test_deep_or_huge_lines_never_raise() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    nested = '{"index": 0, "stdout": ' + "[" * 5000 + "]" * 5000 + "}"
    huge = json.dumps(raw_record(stdout="x" * (LIMITS.output_limit_bytes * 20)))
    records, done = parse_records("\n".join([deep, nested, huge]).encode(), LIMITS)
    assert records == {}
    assert done is None


def test_parse_records_without_a_closing_record() -> None:
    truncated = json.dumps(raw_record()) + "\n" + '{"index": 1, "stat'
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
    record = make_record(exit_code=SETUP_FAILED_EXIT, setup_error="PermissionError(1)")
    assert judge(record, STDIO).verdict is Verdict.SANDBOX_ERROR


def test_the_setup_exit_code_and_banner_on_stderr_are_the_program_s() -> None:
    """The program can print anything and exit 70; only the setup channel, closed before the
    program runs, says that setup failed."""
    banner = "retrospect-harness: case setup failed: EPERM\n"
    record = make_record(exit_code=SETUP_FAILED_EXIT, stderr=banner)
    assert judge(record, STDIO).verdict is Verdict.RUNTIME_ERROR


def test_a_probe_over_the_hosts_budget_is_that_probes_failure_not_a_malformed_report() -> None:
    over = {"probe": 0, "value": ["r", "0x0", hex(10**18), "0x1"]}
    report = parse_report(json.dumps(over) + "\n" + json.dumps({"probe": 1, "ran": True}) + "\n")
    assert not report.malformed
    assert report.probes[0].error is not None
    assert "not judged on the host" in report.probes[0].error["message"]
    assert report.probes[1].error is None


def test_an_assignment_that_raised_fails_the_case_where_it_stands() -> None:
    compiled = compile_assert("r = f(1)\nassert f(2) == 2", "f")
    assert compiled is not None
    error = {"type": "ValueError", "message": "no", "frames": []}
    report = "\n".join(
        [json.dumps({"probe": 0, "error": error}), json.dumps({"probe": 1, "value": ["i", "0x2"]})]
    )
    outcome = judge_checks(compiled, parse_report(report + "\n").probes)
    assert outcome.status == "error"
    assert outcome.check is not None and outcome.check.statement == "r = f(1)"
