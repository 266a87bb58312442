"""The host's side of judging: build the harness request, then turn its records into verdicts.

Expected values stay here: the harness only reports what the program printed, returned, or
what each probe of a host-compiled assert evaluated to, and this module compares. Assert tests
the host cannot compile run whole in the sandbox, and their results say `judged: "sandbox"`.

What differs between cases lives in their kind (`REGISTRY`): stdio, a functional call, a
host-judged assert and a sandbox-judged one, named after the frames the harness runs
(`protocol.FRAME_*`). Each kind frames its case for the sandbox and reads its record back into
a verdict and the texts of its feedback; `case_kind` is the one place a case's type picks its
kind. The mapping from records to verdicts is pure, so it is unit-tested without Docker.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from sandbox.asserts import CompiledAssert, compile_assert
from sandbox.compare import outputs_match, values_match
from sandbox.hostjudge import CheckOutcome, judge_checks
from sandbox.limits import Limits
from sandbox.problem import AssertCase, Case, Compare, FunctionalCase, StdioCase, Tests
from sandbox.protocol import (
    FRAME_CALL,
    FRAME_PROBES,
    FRAME_SCRIPT,
    FRAME_STDIO,
    Header,
    case_frame,
    frame,
)
from sandbox.records import CaseRecord, Closing, Report, parse_output
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


# --- the kinds of case -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A case's record as its kind reads it: the verdict, the program's error, and the texts
    its feedback shows, whole (the result cuts them to excerpts)."""

    verdict: Verdict
    error: dict[str, Any] | None
    input: str
    expected: str
    actual: str


class CaseKind(Protocol):
    """One kind of case, bound to its case: what of it the sandbox sees, and how its record
    reads. `name` is the frame the harness runs it as."""

    name: ClassVar[str]
    judged: ClassVar[Judged]

    def frame(self) -> dict[str, Any]:
        """The case's frame in the request: inputs and probes, never an expected value
        (except in the test code of a sandbox-judged assert case)."""
        ...

    def read(self, record: CaseRecord, compare: Compare, limits: Limits) -> Reading:
        """The verdict and feedback texts of the case's record (a record the case set up and
        the host could parse)."""
        ...


@dataclass(frozen=True)
class StdioKind:
    """The input on stdin; the host matches what the program printed."""

    case: StdioCase
    name: ClassVar[str] = FRAME_STDIO
    judged: ClassVar[Judged] = "host"

    def frame(self) -> dict[str, Any]:
        """The input only."""
        return case_frame(self.name, input=self.case.input)

    def read(self, record: CaseRecord, compare: Compare, limits: Limits) -> Reading:
        """A limit or a failed run decides first; then stdout against the expected output."""
        verdict = _ran_verdict(record, limits) or _match(
            outputs_match(self.case.output, record.stdout, compare)
        )
        case = self.case
        return Reading(verdict, record.report.error, case.input, case.output, record.stdout)


@dataclass(frozen=True)
class CallKind:
    """The entry point called with JSON arguments; the host compares the laundered value."""

    case: FunctionalCase
    name: ClassVar[str] = FRAME_CALL
    judged: ClassVar[Judged] = "host"

    def frame(self) -> dict[str, Any]:
        """The arguments only."""
        return case_frame(self.name, args=self.case.args, kwargs=self.case.kwargs)

    def read(self, record: CaseRecord, compare: Compare, limits: Limits) -> Reading:
        """A limit or a failed run decides first; then the returned value against the
        expected one."""
        report = record.report
        verdict = _ran_verdict(record, limits) or self._returned(report, compare)
        actual = json.dumps(report.value) if report.has_value else ""
        expected = json.dumps(self.case.expected)
        return Reading(verdict, report.error, _call_text(self.case), expected, actual)

    def _returned(self, report: Report, compare: Compare) -> Verdict:
        if not report.has_value:
            return Verdict.RUNTIME_ERROR  # exited before returning a value
        return _match(values_match(self.case.expected, report.value, compare))


@dataclass(frozen=True)
class HostAssertKind:
    """An assert test the host compiled: the sandbox runs the program's side of it step by
    step, and the host evaluates the checks on what each step reported."""

    case: AssertCase
    compiled: CompiledAssert
    name: ClassVar[str] = FRAME_PROBES
    judged: ClassVar[Judged] = "host"

    def frame(self) -> dict[str, Any]:
        """The setup and the probe steps; the expected side of each check stays here."""
        steps = [[s.source, s.target, s.report, s.of] for s in self.compiled.steps]
        return case_frame(self.name, setup=self.compiled.setup, steps=steps)

    def read(self, record: CaseRecord, compare: Compare, limits: Limits) -> Reading:
        """The checks in order on the probes; the one that decided names the statement."""
        checks = judge_checks(self.compiled, record.report.probes)
        error = dict(checks.error) if checks.error is not None else record.report.error
        if checks.check is not None:
            where = checks.check.statement
        else:
            where = _failed_statement(self.case, error)
        verdict = _checked_verdict(record, limits, checks)
        return Reading(verdict, error, where, checks.expected, checks.actual)


@dataclass(frozen=True)
class SandboxAssertKind:
    """An assert test the host could not compile: it runs whole in the sandbox, which says
    whether it ran to its end (see docs/sandbox.md for what that can be fooled by)."""

    case: AssertCase
    name: ClassVar[str] = FRAME_SCRIPT
    judged: ClassVar[Judged] = "sandbox"

    def frame(self) -> dict[str, Any]:
        """The whole test code, expected values included."""
        return case_frame(self.name, code=self.case.code)

    def read(self, record: CaseRecord, compare: Compare, limits: Limits) -> Reading:
        """Passed when the test code claimed the case's token; sides from a failed compare."""
        error = record.report.error
        verdict = limit_verdict(record, limits) or _script_verdict(record)
        expected = str(error.get("expected", "")) if error is not None else ""
        actual = str(error.get("actual", "")) if error is not None else ""
        return Reading(verdict, error, _failed_statement(self.case, error), expected, actual)


_KINDS: tuple[type[CaseKind], ...] = (StdioKind, CallKind, HostAssertKind, SandboxAssertKind)
REGISTRY: Mapping[str, type[CaseKind]] = {kind.name: kind for kind in _KINDS}
if tuple(REGISTRY) != (FRAME_STDIO, FRAME_CALL, FRAME_PROBES, FRAME_SCRIPT):  # pragma: no cover
    raise ImportError("REGISTRY must register one kind for each frame the harness runs")


def case_kind(case: Case, entry_point: str | None) -> CaseKind:
    """The kind `case` is judged as: an assert case on the host where the host can compile
    it (see `sandbox.asserts`), else in the sandbox."""
    # A match rather than a lookup by type: mypy checks that it covers every Case.
    match case:
        case StdioCase():
            return StdioKind(case)
        case FunctionalCase():
            return CallKind(case)
        case AssertCase():
            compiled = compile_assert(case.code, entry_point)
            return SandboxAssertKind(case) if compiled is None else HostAssertKind(case, compiled)


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
    if record.max_rss_kb - record.baseline_rss_kb > limits.memory_limit_mb * 1024:
        # Within the address-space rlimit's interpreter headroom, but over the problem's limit.
        return Verdict.MEMORY_LIMIT
    return None


def _ran_verdict(record: CaseRecord, limits: Limits) -> Verdict | None:
    """A limit, or a runtime error; None when the program ran cleanly and its output decides."""
    if (limit := limit_verdict(record, limits)) is not None:
        return limit
    if record.report.error is not None or record.exit_code != 0:
        return Verdict.RUNTIME_ERROR
    return None


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


def _script_verdict(record: CaseRecord) -> Verdict:
    """Only the token proves the test code ran to its end; an exit code proves nothing."""
    report = record.report
    if record.token and record.token in report.completed:
        return Verdict.ACCEPTED
    if (report.error or {}).get("type") == "AssertionError":
        return Verdict.WRONG_ANSWER
    return Verdict.RUNTIME_ERROR


def _match(ok: bool) -> Verdict:
    return Verdict.ACCEPTED if ok else Verdict.WRONG_ANSWER


def _call_text(case: FunctionalCase) -> str:
    parts = [json.dumps(a) for a in case.args]
    parts += [f"{k}={json.dumps(v)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def _failed_statement(case: AssertCase, error: dict[str, Any] | None) -> str:
    """The line of the assert that failed, as its traceback shows it; else the whole test."""
    frames = error.get("frames") if error is not None else None
    if error is not None and error.get("type") == "AssertionError" and frames:
        return str(frames[-1].get("code") or case.code)
    return case.code


# --- the request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedCase:
    """A case with its place in the suite (index within its split, hidden or not) and the
    problem's entry point, from which its kind follows."""

    index: int
    hidden: bool
    case: Case
    entry_point: str | None = None
    kind: CaseKind = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Derived once: compiling an assert case for the host costs a parse.
        object.__setattr__(self, "kind", case_kind(self.case, self.entry_point))

    @property
    def judged(self) -> Judged:
        """Who compares: the host, or (for uncompiled assert tests) the sandbox."""
        return self.kind.judged


def judged_case(index: int, hidden: bool, case: Case, entry_point: str | None) -> JudgedCase:
    """A case ready to judge: assert cases compiled for the host where their shape allows."""
    return JudgedCase(index, hidden, case, entry_point)


@dataclass(frozen=True)
class HarnessOptions:
    """What a backend tells the harness about the box it runs in."""

    drop_uid: int | None
    scrub_dirs: tuple[str, ...]
    workdir: str
    # "namespace" or "group": see sandbox.harness.cleanup.kill_program_processes
    kill_scope: str = "group"
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
    """What the sandbox gets of one case, as its kind frames it."""
    return judged.kind.frame()


# --- the records -----------------------------------------------------------------------------


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
    """One case's verdict and excerpts from its harness record, read by the case's kind."""
    if record.setup_error or record.malformed:
        return _fault(record, judged)
    reading = judged.kind.read(record, tests.compare, limits)
    return CaseResult(
        index=judged.index,
        hidden=judged.hidden,
        verdict=reading.verdict,
        time_s=record.cpu_s,
        memory_mb=record.max_rss_kb / 1024.0,
        input_excerpt=excerpt(reading.input),
        expected_excerpt=excerpt(reading.expected),
        actual_excerpt=excerpt(reading.actual),
        stderr_excerpt=excerpt(record.stderr),
        error=ProgramError.model_validate(reading.error) if reading.error else None,
        input_chars=len(reading.input),
        actual_chars=len(reading.actual),
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
