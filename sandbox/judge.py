"""The host's side of judging: build the harness request, then turn its records into verdicts.

Expected values stay here: the harness only reports what the program printed, returned, or
what each probe of a host-compiled assert evaluated to, and this module compares. Assert tests
the host cannot compile run whole in the sandbox, and their results say `judged: "sandbox"`.
The mapping from records to verdicts is pure, so it is unit-tested without Docker.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Any

from sandbox.asserts import CompiledAssert, compile_assert
from sandbox.compare import outputs_match, values_match
from sandbox.hostjudge import CheckOutcome, judge_checks
from sandbox.limits import Limits
from sandbox.problem import AssertCase, Case, FunctionalCase, StdioCase, Tests
from sandbox.protocol import (
    FRAME_CALL,
    FRAME_PROBES,
    FRAME_SCRIPT,
    FRAME_STDIO,
    Header,
    case_frame,
    frame,
)
from sandbox.records import CaseRecord, Closing, parse_output
from sandbox.results import (
    CaseResult,
    Judged,
    ProgramError,
    SuiteResult,
    Verdict,
    excerpt,
    suite_verdict,
)

__all__ = ["Closing", "frame"]


@dataclass(frozen=True)
class JudgedCase:
    """A case with its place in the suite (index within its split, hidden or not) and, for an
    assert case the host could compile, its compiled form."""

    index: int
    hidden: bool
    case: Case
    compiled: CompiledAssert | None = None

    @property
    def judged(self) -> Judged:
        """Who compares: the host, or (for uncompiled assert tests) the sandbox."""
        return "sandbox" if isinstance(self.case, AssertCase) and not self.compiled else "host"


def judged_case(index: int, hidden: bool, case: Case, entry_point: str | None) -> JudgedCase:
    """A case ready to judge: assert cases compiled for the host where their shape allows."""
    compiled = compile_assert(case.code, entry_point) if isinstance(case, AssertCase) else None
    return JudgedCase(index, hidden, case, compiled)


@dataclass(frozen=True)
class HarnessOptions:
    """What a backend tells the harness about the box it runs in."""

    drop_uid: int | None
    scrub_dirs: tuple[str, ...]
    workdir: str
    kill_scope: str = "group"  # "uid", "namespace" or "group": see harness.kill_program_processes
    check_ipc: bool = False  # the box has its own IPC namespace, which must stay empty


def build_header(
    program: str, tests: Tests, n_cases: int, limits: Limits, options: HarnessOptions
) -> Header:
    """The attempt's header: every limit computed here, once."""
    return Header(
        program=program,
        kind=tests.kind.value,
        entry_point=tests.entry_point,
        n_cases=n_cases,
        cpu_limit_s=limits.cpu_rlimit_s,
        case_wall_limit_s=limits.case_wall_limit_s,
        suite_wall_limit_s=limits.suite_wall_limit_s,
        address_space_bytes=limits.address_space_bytes,
        output_limit_bytes=limits.output_limit_bytes,
        attempt_output_limit_bytes=limits.attempt_output_limit_bytes,
        stderr_limit_bytes=limits.stderr_limit_bytes,
        file_size_limit_bytes=limits.file_size_limit_bytes,
        process_limit=limits.process_limit,
        drop_uid=options.drop_uid,
        kill_scope=options.kill_scope,
        check_ipc=options.check_ipc,
        scrub_dirs=list(options.scrub_dirs),
        workdir=options.workdir,
    )


def build_request(
    program: str,
    tests: Tests,
    cases: list[JudgedCase],
    limits: Limits,
    options: HarnessOptions,
) -> bytes:
    """The harness's stdin: a header frame, then one frame per case without expected values."""
    header = build_header(program, tests, len(cases), limits, options)
    return frame(header.to_json()) + b"".join(frame(case_payload(c)) for c in cases)


def case_payload(judged: JudgedCase) -> dict[str, Any]:
    """What the sandbox gets of one case: inputs and probes, never an expected value (except in
    the test code of a sandbox-judged assert case)."""
    case = judged.case
    if isinstance(case, StdioCase):
        return case_frame(FRAME_STDIO, input=case.input)
    if isinstance(case, FunctionalCase):
        return case_frame(FRAME_CALL, args=case.args, kwargs=case.kwargs)
    if judged.compiled is not None:
        steps = [[s.source, s.target, s.report, s.of] for s in judged.compiled.steps]
        return case_frame(FRAME_PROBES, setup=judged.compiled.setup, steps=steps)
    return case_frame(FRAME_SCRIPT, code=case.code)


def parse_records(
    stdout: bytes, limits: Limits | None = None
) -> tuple[dict[int, CaseRecord], Closing | None]:
    """Case records by index, and the closing record (None when the harness did not finish)."""
    return parse_output(stdout, limits or Limits())


def assemble(
    cases: list[JudgedCase],
    records: dict[int, CaseRecord],
    tests: Tests,
    limits: Limits,
    wall_s: float,
    detail: str = "",
    finished: bool = False,
) -> SuiteResult:
    """The suite result: every case judged. A missing record is the sandbox's fault, unless the
    harness finished and the record was unreadable, which only the program can have caused."""
    results = []
    for position, judged in enumerate(cases):
        record = records.get(position)
        if record is None and finished:
            record = CaseRecord(index=position, malformed="the case's record was unreadable")
        if record is None:
            results.append(_sandbox_error(judged, detail or "the harness returned no record"))
        else:
            results.append(judge_case(record, judged, tests, limits))
    passed = sum(r.verdict is Verdict.ACCEPTED for r in results)
    return SuiteResult(
        verdict=suite_verdict(results),
        passed=passed,
        total=len(results),
        cases=results,
        detail=detail,
        wall_s=wall_s,
    )


def _sandbox_error(judged: JudgedCase, detail: str) -> CaseResult:
    return CaseResult(
        index=judged.index,
        hidden=judged.hidden,
        verdict=Verdict.SANDBOX_ERROR,
        stderr_excerpt=excerpt(detail),
        judged=judged.judged,
    )


def judge_case(record: CaseRecord, judged: JudgedCase, tests: Tests, limits: Limits) -> CaseResult:
    """One case's verdict and excerpts from its harness record."""
    if record.setup_error or record.malformed:
        return _fault(record, judged)
    checks = judge_checks(judged.compiled, record.report.probes) if judged.compiled else None
    verdict = _verdict(record, judged.case, tests, limits, checks)
    error = _error(record, checks)
    actual = _actual_text(record, judged.case, checks)
    input_text = _input_text(judged.case, error, checks)
    return CaseResult(
        index=judged.index,
        hidden=judged.hidden,
        verdict=verdict,
        time_s=record.cpu_s,
        memory_mb=record.max_rss_kb / 1024.0,
        input_excerpt=excerpt(input_text),
        expected_excerpt=excerpt(_expected_text(judged.case, error, checks)),
        actual_excerpt=excerpt(actual),
        stderr_excerpt=excerpt(record.stderr),
        error=ProgramError.model_validate(error) if error else None,
        input_chars=len(input_text),
        actual_chars=len(actual),
        judged=judged.judged,
    )


def _fault(record: CaseRecord, judged: JudgedCase) -> CaseResult:
    """Our own failure to set a case up (reported on a channel closed before the program ran)
    is a sandbox error; a record the program made unreadable is the program's fault."""
    verdict = Verdict.SANDBOX_ERROR if record.setup_error else Verdict.RUNTIME_ERROR
    return CaseResult(
        index=judged.index,
        hidden=judged.hidden,
        verdict=verdict,
        stderr_excerpt=excerpt(record.setup_error or record.malformed),
        judged=judged.judged,
    )


def _verdict(
    record: CaseRecord, case: Case, tests: Tests, limits: Limits, checks: CheckOutcome | None
) -> Verdict:
    if checks is not None:
        return _checked_verdict(record, limits, checks)
    return limit_verdict(record, limits) or _outcome_verdict(record, case, tests)


def _checked_verdict(record: CaseRecord, limits: Limits, checks: CheckOutcome) -> Verdict:
    """A failing check decides before any limit (the test would have stopped there)."""
    if checks.status == "failed":
        return Verdict.WRONG_ANSWER
    if checks.status == "error":
        failed_assert = (checks.error or {}).get("type") == "AssertionError"
        return Verdict.WRONG_ANSWER if failed_assert else Verdict.RUNTIME_ERROR
    limit = limit_verdict(record, limits)
    if limit is not None:
        return limit
    return Verdict.ACCEPTED if checks.status == "passed" else Verdict.RUNTIME_ERROR


def limit_verdict(record: CaseRecord, limits: Limits) -> Verdict | None:
    """The limit a case ran into, if any. CPU time decides, so load on the host cannot."""
    status = record.status
    error_type = (record.report.error or {}).get("type")
    if status == "compile_error":
        return Verdict.COMPILE_ERROR
    if status == "skipped":
        return Verdict.SKIPPED
    if status in ("output_limit", "stderr_limit"):
        return Verdict.OUTPUT_LIMIT
    if status == "wall_timeout" or record.cpu_s > limits.time_limit_s:
        return Verdict.TIME_LIMIT
    if record.exit_code == -signal.SIGXCPU:
        return Verdict.TIME_LIMIT
    if error_type == "MemoryError" or record.exit_code == -signal.SIGKILL:
        # A SIGKILL the harness did not send comes from the memory cgroup's OOM killer.
        return Verdict.MEMORY_LIMIT
    return None


def _outcome_verdict(record: CaseRecord, case: Case, tests: Tests) -> Verdict:
    report = record.report
    if isinstance(case, AssertCase):
        if record.token and record.token in report.completed:
            return Verdict.ACCEPTED
        if (report.error or {}).get("type") == "AssertionError":
            return Verdict.WRONG_ANSWER
        return Verdict.RUNTIME_ERROR
    if report.error is not None or record.exit_code != 0:
        return Verdict.RUNTIME_ERROR
    if isinstance(case, StdioCase):
        return _match(outputs_match(case.output, record.stdout, tests.compare))
    if not report.has_value:
        return Verdict.RUNTIME_ERROR  # exited before returning a value
    return _match(values_match(case.expected, report.value, tests.compare))


def _match(ok: bool) -> Verdict:
    return Verdict.ACCEPTED if ok else Verdict.WRONG_ANSWER


def _error(record: CaseRecord, checks: CheckOutcome | None) -> dict[str, Any] | None:
    if checks is not None and checks.error is not None:
        return dict(checks.error)
    return record.report.error


def _input_text(case: Case, error: Any, checks: CheckOutcome | None) -> str:
    if isinstance(case, StdioCase):
        return case.input
    if isinstance(case, FunctionalCase):
        return _call_text(case)
    if checks is not None and checks.check is not None:
        return checks.check.statement
    frames = error.get("frames") if isinstance(error, dict) else None
    if isinstance(error, dict) and error.get("type") == "AssertionError" and frames:
        return str(frames[-1].get("code") or case.code)
    return case.code


def _call_text(case: FunctionalCase) -> str:
    parts = [json.dumps(a) for a in case.args]
    parts += [f"{k}={json.dumps(v)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def _expected_text(case: Case, error: Any, checks: CheckOutcome | None) -> str:
    if isinstance(case, StdioCase):
        return case.output
    if isinstance(case, FunctionalCase):
        return json.dumps(case.expected)
    if checks is not None:
        return checks.expected
    return str(error.get("expected", "")) if isinstance(error, dict) else ""


def _actual_text(record: CaseRecord, case: Case, checks: CheckOutcome | None) -> str:
    if isinstance(case, StdioCase):
        return record.stdout
    if isinstance(case, FunctionalCase):
        return json.dumps(record.report.value) if record.report.has_value else ""
    if checks is not None:
        return checks.actual
    error = record.report.error
    return str(error.get("actual", "")) if isinstance(error, dict) else ""
