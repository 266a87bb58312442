"""Every sandbox limit has a name, a unit and a default."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sandbox.problem import Problem

MB = 1024 * 1024
# JSON escaping can make one byte of output six bytes of record (`\u0001`).
ESCAPE_FACTOR = 6
# What a case's record holds beyond its output: its setup message, token and the record's keys.
SETUP_ERROR_BYTES = 4096
RECORD_SLACK_BYTES = 64 * 1024
# Address space the interpreter itself needs on top of the program's memory limit.
INTERPRETER_HEADROOM_MB = 96


@dataclass(frozen=True)
class Limits:
    """Limits of one attempt. Time and memory are per case; the rest hold for the attempt."""

    time_limit_s: float = 2.0
    memory_limit_mb: int = 256
    wall_factor: float = 3.0
    output_limit_bytes: int = 1 * MB
    # What all cases of one attempt may print and report together: bounds what the host holds.
    attempt_output_limit_bytes: int = 64 * MB
    stderr_limit_bytes: int = 64 * 1024
    file_size_limit_bytes: int = 8 * MB
    tmpfs_mb: int = 16
    process_limit: int = 64
    cpus: float = 1.0
    suite_wall_limit_s: float = 120.0

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0 or self.memory_limit_mb < 16:
            raise ValueError(
                f"limits too small: time_limit_s={self.time_limit_s}, "
                f"memory_limit_mb={self.memory_limit_mb}"
            )

    @property
    def case_wall_limit_s(self) -> float:
        """Wall time a case may take: CPU time decides verdicts, wall time catches sleepers."""
        return self.time_limit_s * self.wall_factor + 1.0

    @property
    def cpu_rlimit_s(self) -> int:
        """The case's RLIMIT_CPU: past the limit, so that the verdict is ours, not a signal."""
        return math.ceil(self.time_limit_s + 0.5)

    @property
    def address_space_bytes(self) -> int:
        """The case's RLIMIT_AS: the memory limit plus the interpreter's own headroom."""
        return (self.memory_limit_mb + INTERPRETER_HEADROOM_MB) * MB

    def harness_output_cap_bytes(self, n_cases: int) -> int:
        """All the harness can honestly write in one attempt, whatever the program printed:
        the attempt's output and every case's stderr and setup message, escaped, plus each
        record's own keys. A backend reads this much and no more."""
        per_case = ESCAPE_FACTOR * (self.stderr_limit_bytes + SETUP_ERROR_BYTES)
        escaped_output = ESCAPE_FACTOR * self.attempt_output_limit_bytes
        return escaped_output + n_cases * (per_case + RECORD_SLACK_BYTES) + RECORD_SLACK_BYTES

    def attempt_wall_limit_s(self, n_cases: int) -> float:
        """The outer deadline of one attempt, after which the whole sandbox is killed."""
        # The harness starts no case after the suite limit, but one started just before it may
        # run its whole case wall limit: the deadline must not cut that case short.
        harness_s = min(
            self.case_wall_limit_s * n_cases, self.suite_wall_limit_s + self.case_wall_limit_s
        )
        return harness_s + 10.0

    @classmethod
    def for_problem(cls, problem: Problem, base: Limits | None = None) -> Limits:
        """The problem's own time and memory limits on top of `base`."""
        return replace(
            base or cls(),
            time_limit_s=problem.time_limit_s,
            memory_limit_mb=problem.memory_limit_mb,
        )
