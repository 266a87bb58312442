"""The harness's output read on the host as hostile data: every record typed, capped, bounded.

Nothing here raises on bad input. A line that is too long, too deep, not JSON or of the wrong
shape is dropped, or, when it names its case, becomes that case's `malformed` reason, which the
judge turns into a program-fault verdict. The case process's own report (the program can write
into it) is parsed the same way, one line at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.hostexpr import ProbeOutcome
from sandbox.limits import ESCAPE_FACTOR, RECORD_SLACK_BYTES, SETUP_ERROR_BYTES, Limits
from sandbox.protocol import (
    CASE_KEYS,
    CLOSING_KEYS,
    MAX_JSON_DEPTH,
    STATUSES,
    OverBudget,
    decode_value,
)
from sandbox.results import valid_text

MESSAGE_CHARS = 2000
CODE_CHARS = 500
MAX_FRAMES = 3


@dataclass(frozen=True)
class Report:
    """What the case process reported, parsed: at most one of each, or `malformed`."""

    value: Any = None
    has_value: bool = False
    error: dict[str, Any] | None = None
    probes: dict[int, ProbeOutcome] = field(default_factory=dict)
    completed: tuple[str, ...] = ()
    malformed: str = ""


@dataclass(frozen=True)
class CaseRecord:
    """One case as the harness saw it."""

    index: int
    status: str = "exited"
    exit_code: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_kb: int = 0
    baseline_rss_kb: int = 0
    stdout: str = ""
    stderr: str = ""
    report: Report = field(default_factory=Report)
    setup_error: str = ""
    token: str = ""
    malformed: str = ""


@dataclass(frozen=True)
class Closing:
    """The harness's last record of an attempt."""

    clean_before: bool
    clean_after: bool


def line_limit_bytes(limits: Limits) -> int:
    """The longest record line the harness can honestly write."""
    payload = 2 * limits.output_limit_bytes + limits.stderr_limit_bytes + SETUP_ERROR_BYTES
    return ESCAPE_FACTOR * payload + RECORD_SLACK_BYTES


def bounded_json(text: str | bytes) -> Any:
    """`json.loads`, or None when the text is not JSON or nests deeper than MAX_JSON_DEPTH."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if _depth_within(data, MAX_JSON_DEPTH) else None


def _depth_within(data: Any, limit: int) -> bool:
    """Iterative, so a deep value cannot overflow our own stack."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
    return True


def parse_output(stdout: bytes, limits: Limits) -> tuple[dict[int, CaseRecord], Closing | None]:
    """Case records by index, and the closing record (None when the harness did not finish)."""
    records: dict[int, CaseRecord] = {}
    closing: Closing | None = None
    cap = line_limit_bytes(limits)
    for line in stdout.split(b"\n"):
        if not line.strip() or len(line) > cap:
            continue
        data = bounded_json(line)
        if not isinstance(data, dict):
            continue
        if data.get("done") is True:
            closing = _closing(data) or closing
        elif type(data.get("index")) is int and data["index"] not in records:
            records[data["index"]] = parse_case(data, limits)
    return records, closing


def _closing(data: dict[str, Any]) -> Closing | None:
    if not _typed(data, CLOSING_KEYS):
        return None
    return Closing(clean_before=data["clean_before"], clean_after=data["clean_after"])


def _typed(data: dict[str, Any], keys: Mapping[str, type]) -> bool:
    return data.keys() == keys.keys() and all(type(data[k]) is t for k, t in keys.items())


def parse_case(data: dict[str, Any], limits: Limits) -> CaseRecord:
    """One case record, checked key by key; anything unexpected makes it `malformed`."""
    index = data["index"]
    problem = _case_problem(data, limits)
    if problem:
        return CaseRecord(index=index, malformed=problem)
    report = parse_report(data["report"])
    return CaseRecord(
        index=index,
        status=data["status"],
        exit_code=data["exit_code"],
        cpu_s=data["cpu_s"],
        wall_s=data["wall_s"],
        max_rss_kb=data["max_rss_kb"],
        baseline_rss_kb=data["baseline_rss_kb"],
        stdout=data["stdout"],
        stderr=data["stderr"],
        report=report,
        setup_error=data["setup_error"],
        token=data["token"],
        malformed=report.malformed,
    )


def _case_problem(data: dict[str, Any], limits: Limits) -> str:
    if not _typed(data, CASE_KEYS):
        return "the case record has unexpected keys or types"
    if data["status"] not in STATUSES:
        return "the case record has an unknown status"
    numbers = (data["cpu_s"], data["wall_s"])
    if (
        not all(math.isfinite(n) and n >= 0 for n in numbers)
        or min(data["max_rss_kb"], data["baseline_rss_kb"]) < 0
    ):
        return "the case record has impossible usage figures"
    caps = {
        "stdout": limits.output_limit_bytes,
        "report": limits.output_limit_bytes,
        "stderr": limits.stderr_limit_bytes,
        "setup_error": SETUP_ERROR_BYTES,
        "token": 64,
    }
    if any(len(data[key]) > cap for key, cap in caps.items()):
        return "the case record exceeds the output limits"
    return ""


def parse_report(text: str) -> Report:
    """The case process's report lines; duplicates and unknown shapes make it `malformed`."""
    builder = _ReportBuilder()
    lines = text.split("\n")
    # The last piece is empty after a final newline; otherwise it is a line the output limit
    # cut in half, which says nothing.
    for line in lines[:-1]:
        if line.strip() and not builder.add(bounded_json(line)):
            return Report(malformed=builder.problem or "the case's report is malformed")
    return builder.build()


class _ReportBuilder:
    def __init__(self) -> None:
        self.value: Any = None
        self.has_value = False
        self.error: dict[str, Any] | None = None
        self.probes: dict[int, ProbeOutcome] = {}
        self.completed: list[str] = []
        self.problem = ""

    def add(self, item: Any) -> bool:
        if not isinstance(item, dict):
            return False
        if "probe" in item:
            return self._probe(item)
        if item.keys() == {"value"} and not self.has_value:
            self.value, self.has_value = item["value"], True
            return True
        if item.keys() == {"error"} and self.error is None:
            self.error = program_error(item["error"])
            return self.error is not None
        if item.keys() == {"completed"} and type(item["completed"]) is str:
            self.completed.append(item["completed"][:64])
            return True
        return False

    def _probe(self, item: dict[str, Any]) -> bool:
        index = item["probe"]
        if type(index) is not int or index in self.probes or len(item) != 2:
            return False
        if "error" in item:
            error = program_error(item["error"])
            if error is None:
                return False
            self.probes[index] = ProbeOutcome(error=error)
            return True
        if item.get("ran") is True:
            self.probes[index] = ProbeOutcome()
            return True
        if "value" not in item:
            return False
        try:
            self.probes[index] = ProbeOutcome(value=decode_value(item["value"]))
        except OverBudget as exc:  # the program's value, too big to judge: its failure
            self.probes[index] = ProbeOutcome(error=over_budget_error(str(exc)))
        except (ValueError, MemoryError, RecursionError) as exc:
            self.problem = f"probe {index} reported a malformed value: {exc}"
            return False
        return True

    def build(self) -> Report:
        return Report(
            value=self.value,
            has_value=self.has_value,
            error=self.error,
            probes=self.probes,
            completed=tuple(self.completed),
        )


def over_budget_error(message: str) -> dict[str, Any]:
    """The error a probe stands for when its value is past the host's budgets."""
    return {"type": "ValueError", "message": f"not judged on the host: {message}", "frames": []}


def program_error(data: Any) -> dict[str, Any] | None:
    """An error description, typed and cut to size, or None when it is not one."""
    if not isinstance(data, dict) or type(data.get("type")) is not str:
        return None
    if type(data.get("message")) is not str or type(data.get("frames")) is not list:
        return None
    if not data.keys() <= {"type", "message", "frames", "actual", "expected"}:
        return None
    frames = [_frame(f) for f in data["frames"][-MAX_FRAMES:]]
    if any(f is None for f in frames):
        return None
    error: dict[str, Any] = {
        "type": valid_text(data["type"][:100]),
        "message": valid_text(data["message"][:MESSAGE_CHARS]),
        "frames": frames,
    }
    for key in ("actual", "expected"):
        if type(data.get(key)) is str:
            error[key] = valid_text(data[key][:MESSAGE_CHARS])
    return error


def _frame(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or data.keys() - {"line", "function", "code"}:
        return None
    line, function, code = data.get("line"), data.get("function"), data.get("code", "")
    if type(line) is not int or type(function) is not str or type(code) is not str:
        return None
    return {
        "line": line,
        "function": valid_text(function[:200]),
        "code": valid_text(code[:CODE_CHARS]),
    }
