"""`Sandbox.run_suite` through the in-process fake backend: what the runner sends and judges."""

from __future__ import annotations

from typing import Any

from sandbox import Problem, Sandbox, Verdict
from sandbox.protocol import Header, encode_value
from tests.unit.sandbox.fake_backend import FakeBackend, split_request

ASSERTS = Problem.model_validate(
    {
        "title": "token",
        "statement": "return the token",
        "tests": {
            "kind": "assert",
            "entry_point": "f",
            "public": [{"code": 'assert f() == "EXPECTED-SECRET"'}],
            "hidden": [{"code": 'for _ in [0]:\n    assert f() == "HIDDEN-SECRET"'}],
        },
    }
)
STDIO = Problem.model_validate(
    {
        "title": "sum",
        "statement": "print a+b",
        "tests": {"kind": "stdio", "public": [{"input": "2 3\n", "output": "5"}]},
    }
)


def answer(value: Any) -> Any:
    """A fake program whose every probe reports `value`."""

    def respond(header: Header, frame: dict[str, Any]) -> dict[str, Any]:
        if frame["frame"] == "probes":
            return {"reports": [{"probe": 0, "value": encode_value(value)}]}
        return {"stdout": "5\n"}

    return respond


def test_a_host_judged_case_passes_on_the_right_value_only() -> None:
    for value, verdict in (("EXPECTED-SECRET", Verdict.ACCEPTED), ("x", Verdict.WRONG_ANSWER)):
        backend = FakeBackend(answer(value))
        result = Sandbox(backend).run_suite("def f(): pass", ASSERTS, "public")
        assert result.verdict is verdict
        assert result.cases[0].judged == "host"
        assert b"EXPECTED-SECRET" not in backend.requests[0]  # never sent to the sandbox


def test_only_a_sandbox_judged_case_carries_its_test_code() -> None:
    backend = FakeBackend(answer("x"))
    result = Sandbox(backend).run_suite("def f(): pass", ASSERTS, "all")
    _, frames = split_request(backend.requests[0])
    assert [f["frame"] for f in frames] == ["probes", "script"]
    assert b"EXPECTED-SECRET" not in backend.requests[0]
    assert [c.judged for c in result.cases] == ["host", "sandbox"]
    assert result.cases[1].verdict is Verdict.RUNTIME_ERROR  # it never asked for a token


def test_a_failed_box_blames_every_case_on_the_sandbox() -> None:
    backend = FakeBackend(answer("x"), fail_with="daemon gone")
    result = Sandbox(backend).run_suite("print(5)", STDIO)
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert result.detail == "daemon gone"


def test_a_harness_that_did_not_finish_is_a_sandbox_error() -> None:
    result = Sandbox(FakeBackend(answer("x"), finish=False)).run_suite("print(5)", STDIO)
    assert result.verdict is Verdict.ACCEPTED  # its record arrived before it died
    backend = FakeBackend(answer("x"), finish=False, dropped=frozenset({0}))
    result = Sandbox(backend).run_suite("print(5)", STDIO)
    assert result.verdict is Verdict.SANDBOX_ERROR
    assert "ended early" in result.detail


def test_a_malformed_record_from_a_finished_harness_is_the_programs_fault() -> None:
    backend = FakeBackend(lambda header, frame: {"cpu_s": "fast"})
    result = Sandbox(backend).run_suite("print(5)", STDIO)
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_no_code_is_a_format_error_and_nothing_runs() -> None:
    backend = FakeBackend(answer("x"))
    result = Sandbox(backend).run_suite("```\n```", STDIO)
    assert result.verdict is Verdict.FORMAT_ERROR
    assert backend.requests == []


def test_the_header_carries_the_problems_limits_computed_once() -> None:
    backend = FakeBackend(answer("x"))
    problem = STDIO.model_copy(update={"time_limit_s": 3.0})
    sandbox = Sandbox(backend)
    sandbox.run_suite("print(5)", problem)
    header, _ = split_request(backend.requests[0])
    assert header.cpu_limit_s == 4  # ceil(3.0 + 0.5)
    assert header.case_wall_limit_s == 3.0 * 3.0 + 1.0
    sandbox.close()
    assert backend.closed
