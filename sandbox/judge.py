"""The host's side of judging: build the harness request, then turn its records into verdicts.

Expected outputs stay here: the harness only reports what the program did, and this module
compares. The mapping from raw records to verdicts is pure, so it is unit-tested without Docker.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Any

from sandbox.compare import outputs_match, values_match
from sandbox.harness import SETUP_FAILED, SETUP_FAILED_EXIT
from sandbox.limits import Limits
from sandbox.problem import AssertCase, Case, FunctionalCase, StdioCase, Tests
from sandbox.results import (
    CaseResult,
    ProgramError,
    SuiteResult,
    Verdict,
    excerpt,
    suite_verdict,
)

Record = dict[str, Any]


@dataclass(frozen=True)
class JudgedCase:
    """A case with its place in the suite: its index within its split, and whether it is hidden."""

    index: int
    hidden: bool
    case: Case


@dataclass(frozen=True)
class HarnessOptions:
    """What a backend tells the harness about the box it runs in."""

    drop_uid: int | None
    scrub_dirs: tuple[str, ...]
    workdir: str
    kill_scope: str = "group"  # "uid", "namespace" or "group": see harness.kill_program_processes


def frame(payload: dict[str, Any]) -> bytes:
    """One length-prefixed JSON frame of the harness protocol."""
    data = json.dumps(payload).encode()
    return str(len(data)).encode() + b"\n" + data


def build_request(
    program: str,
    tests: Tests,
    cases: list[JudgedCase],
    limits: Limits,
    options: HarnessOptions,
) -> bytes:
    """The harness's stdin: a header frame, then one frame per case without expected outputs."""
    header = {
        "program": program,
        "kind": tests.kind.value,
        "entry_point": tests.entry_point,
        "time_limit_s": limits.time_limit_s,
        "memory_limit_mb": limits.memory_limit_mb,
        "wall_factor": limits.wall_factor,
        "output_limit_bytes": limits.output_limit_bytes,
        "stderr_limit_bytes": limits.stderr_limit_bytes,
        "file_size_limit_bytes": limits.file_size_limit_bytes,
        "process_limit": limits.process_limit,
        "suite_wall_limit_s": limits.suite_wall_limit_s,
        "drop_uid": options.drop_uid,
        "kill_scope": options.kill_scope,
        "scrub_dirs": list(options.scrub_dirs),
        "workdir": options.workdir,
        "n_cases": len(cases),
    }
    return frame(header) + b"".join(frame(_case_payload(c.case)) for c in cases)


def _case_payload(case: Case) -> dict[str, Any]:
    if isinstance(case, StdioCase):
        return {"input": case.input}
    if isinstance(case, FunctionalCase):
        return {"args": case.args, "kwargs": case.kwargs}
    return {"code": case.code}


def parse_records(stdout: bytes) -> tuple[dict[int, Record], Record | None]:
    """Case records by index, and the closing record (None when the harness did not finish)."""
    records: dict[int, Record] = {}
    closing: Record | None = None
    for line in stdout.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("done") is True:
            closing = record
        elif isinstance(record, dict) and isinstance(record.get("index"), int):
            records[record["index"]] = record
    return records, closing


def assemble(
    cases: list[JudgedCase],
    records: dict[int, Record],
    tests: Tests,
    limits: Limits,
    wall_s: float,
    detail: str = "",
) -> SuiteResult:
    """The suite result: every case judged, a missing record being the sandbox's fault."""
    results = []
    for position, judged in enumerate(cases):
        record = records.get(position)
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
    )


def judge_case(record: Record, judged: JudgedCase, tests: Tests, limits: Limits) -> CaseResult:
    """One case's verdict and excerpts from its raw harness record."""
    verdict = (
        _harness_verdict(record)
        or limit_verdict(record, limits)
        or _outcome_verdict(record, judged.case, tests)
    )
    error = record.get("error")
    actual = _actual_text(record, judged.case)
    input_text = _input_text(judged.case, error)
    return CaseResult(
        index=judged.index,
        hidden=judged.hidden,
        verdict=verdict,
        time_s=max(0.0, float(record.get("cpu_s", 0.0))),
        memory_mb=max(0.0, float(record.get("max_rss_kb", 0)) / 1024.0),
        input_excerpt=excerpt(input_text),
        expected_excerpt=excerpt(_expected_text(judged.case, error)),
        actual_excerpt=excerpt(actual),
        stderr_excerpt=excerpt(str(record.get("stderr", ""))),
        error=ProgramError.model_validate(error) if isinstance(error, dict) else None,
        input_chars=len(input_text),
        actual_chars=len(actual),
    )


def _harness_verdict(record: Record) -> Verdict | None:
    """Our own failure to set a case up (rlimits, uid drop) is a sandbox error, never the
    program's: the harness then exits the case with its setup status and says so on stderr."""
    failed_setup = record.get("exit_code") == SETUP_FAILED_EXIT and str(
        record.get("stderr", "")
    ).startswith(SETUP_FAILED)
    return Verdict.SANDBOX_ERROR if failed_setup else None


def limit_verdict(record: Record, limits: Limits) -> Verdict | None:
    """The limit a case ran into, if any. CPU time decides, so load on the host cannot."""
    status = record.get("status")
    exit_code = record.get("exit_code", 0)
    error_type = (record.get("error") or {}).get("type")
    if status == "compile_error":
        return Verdict.COMPILE_ERROR
    if status == "skipped":
        return Verdict.SKIPPED
    if status in ("output_limit", "stderr_limit"):
        return Verdict.OUTPUT_LIMIT
    cpu_s = float(record.get("cpu_s", 0.0))
    if status == "wall_timeout" or cpu_s > limits.time_limit_s:
        return Verdict.TIME_LIMIT
    if exit_code == -signal.SIGXCPU:
        return Verdict.TIME_LIMIT
    if error_type == "MemoryError" or exit_code == -signal.SIGKILL:
        # A SIGKILL the harness did not send comes from the memory cgroup's OOM killer.
        return Verdict.MEMORY_LIMIT
    return None


def _outcome_verdict(record: Record, case: Case, tests: Tests) -> Verdict:
    error = record.get("error")
    if isinstance(case, AssertCase):
        if record.get("completed") is True:
            return Verdict.ACCEPTED
        if isinstance(error, dict) and error.get("type") == "AssertionError":
            return Verdict.WRONG_ANSWER
        return Verdict.RUNTIME_ERROR
    if error is not None or record.get("exit_code", 0) != 0:
        return Verdict.RUNTIME_ERROR
    if isinstance(case, StdioCase):
        return _match(outputs_match(case.output, str(record.get("stdout", "")), tests.compare))
    if "value" not in record:
        return Verdict.RUNTIME_ERROR  # exited before returning a value
    return _match(values_match(case.expected, record["value"], tests.compare))


def _match(ok: bool) -> Verdict:
    return Verdict.ACCEPTED if ok else Verdict.WRONG_ANSWER


def _input_text(case: Case, error: Any) -> str:
    if isinstance(case, StdioCase):
        return case.input
    if isinstance(case, FunctionalCase):
        return _call_text(case)
    frames = (error or {}).get("frames") if isinstance(error, dict) else None
    if isinstance(error, dict) and error.get("type") == "AssertionError" and frames:
        return str(frames[-1].get("code") or case.code)
    return case.code


def _call_text(case: FunctionalCase) -> str:
    parts = [json.dumps(a) for a in case.args]
    parts += [f"{k}={json.dumps(v)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def _expected_text(case: Case, error: Any) -> str:
    if isinstance(case, StdioCase):
        return case.output
    if isinstance(case, FunctionalCase):
        return json.dumps(case.expected)
    return str(error.get("expected", "")) if isinstance(error, dict) else ""


def _actual_text(record: Record, case: Case) -> str:
    if isinstance(case, StdioCase):
        return str(record.get("stdout", ""))
    if isinstance(case, FunctionalCase):
        return json.dumps(record["value"]) if "value" in record else ""
    error = record.get("error")
    return str(error.get("actual", "")) if isinstance(error, dict) else ""
