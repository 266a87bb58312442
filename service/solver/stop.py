"""Why a job stops before its end: the one record of it, held per job, and read by the loop.

Three things stop a job: a cancel request, its worker losing the lease, the worker shutting
down. Only a cancel ends the job (`job.cancelled`); the other two let it go without an ending,
and whoever holds it next resumes it. Whoever learns a reason records it here first (the
heartbeat, the worker's `stop()`, the sink that found the lease gone); the loop asks at its
phase boundaries and decides in one place (`loop.solve`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum


class StopReason(StrEnum):
    """Why a job should stop now."""

    CANCEL = "cancel"
    LEASE_LOST = "lease lost"
    SHUTDOWN = "shutdown"


class Abandoned(StrEnum):
    """How a solve that stopped without an ending reports itself; not a job status."""

    ABANDONED = "abandoned"


ABANDONED = Abandoned.ABANDONED

# When several reasons hold, the first of these wins: a worker that lost the lease may write
# nothing, and one that is shutting down hands the job back rather than ending it (the next
# holder sees the row's cancel request and ends it cancelled).
_PRECEDENCE = (StopReason.LEASE_LOST, StopReason.SHUTDOWN, StopReason.CANCEL)

StopCheck = Callable[[], StopReason | None]


class Stopped(Exception):
    """Raised inside a solve once it must stop; `loop.solve` catches it and never lets it out."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class JobStop:
    """The stop reasons of one job; thread-safe. Calling it gives the reason that wins."""

    def __init__(self) -> None:
        self._reasons: set[StopReason] = set()
        self._lock = threading.Lock()

    def request(self, reason: StopReason) -> None:
        """Record a reason (once is enough; it is never taken back)."""
        with self._lock:
            self._reasons.add(reason)

    def __call__(self) -> StopReason | None:
        with self._lock:
            return next((reason for reason in _PRECEDENCE if reason in self._reasons), None)


def never_stopped() -> StopReason | None:
    """The default stop check: a solve that runs to its end."""
    return None
