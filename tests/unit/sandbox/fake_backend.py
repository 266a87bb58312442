"""An in-process fake Backend for unit tests of `sandbox.runner`: no harness, no box.

It decodes the request the runner built and answers each case through `respond`, which plays
the program: it gets the header and the case frame and returns what the case process would
have reported (stdout, report lines). `fail_with` makes the box itself fail; `finish=False`
leaves out the closing record, as a harness that died would, and `dropped` the records of
those cases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.backends.base import HarnessRun, SandboxError
from sandbox.judge import HarnessOptions
from sandbox.limits import Limits
from sandbox.protocol import CASE_KEYS, Header

Frame = dict[str, Any]
Responder = Callable[[Header, Frame], dict[str, Any]]


def split_request(request: bytes) -> tuple[Header, list[Frame]]:
    """The header and case frames of a harness request."""
    frames: list[Frame] = []
    while request:
        size, _, rest = request.partition(b"\n")
        frames.append(json.loads(rest[: int(size)]))
        request = rest[int(size) :]
    return Header.from_json(frames[0]), frames[1:]


def case_record(index: int, **fields: Any) -> dict[str, Any]:
    """A harness case record: a clean, quick exit unless `fields` say otherwise."""
    record: dict[str, Any] = {key: kind() for key, kind in CASE_KEYS.items()}
    record.update(index=index, status="exited", max_rss_kb=1024, cpu_s=0.01, wall_s=0.01)
    reports = fields.pop("reports", [])
    record["report"] = "".join(json.dumps(r) + "\n" for r in reports)
    record.update(fields)
    return record


@dataclass
class FakeBackend:
    """A Backend whose 'sandbox' is a Python function."""

    respond: Responder
    fail_with: str = ""
    finish: bool = True
    dropped: frozenset[int] = frozenset()
    name: str = "fake"
    requests: list[bytes] = field(default_factory=list)
    closed: bool = False

    def options(self) -> HarnessOptions:
        """Nothing to drop, scrub or kill: there is no box."""
        return HarnessOptions(drop_uid=None, scrub_dirs=(), workdir="/nonexistent")

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Answer every case through `respond`, or fail as told."""
        self.requests.append(request)
        if self.fail_with:
            raise SandboxError(self.fail_with)
        header, cases = split_request(request)
        lines = [
            json.dumps(case_record(i, **self.respond(header, c)))
            for i, c in enumerate(cases)
            if i not in self.dropped
        ]
        if self.finish:
            lines.append(json.dumps({"done": True, "clean_before": True, "clean_after": True}))
        stdout = "".join(line + "\n" for line in lines).encode()
        return HarnessRun(stdout, b"", 0 if self.finish else None, False, 0.01)

    def close(self) -> None:
        """Remember that the runner let go of us."""
        self.closed = True
