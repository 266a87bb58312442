"""The job lifecycle as a state machine: the statuses and the moves allowed between them
(`transitions.py` holds the one function that moves a job).

A claim moves `queued → running`; a worker that stops gracefully may hand a running job back
(`running → queued`); a lapsed lease is claimed again without a status move (it stays
`running`, only the lease owner changes). Terminal statuses have no way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from service.solver.endings import ENDING_OF_TYPE, OutcomeStatus


class JobStatus(StrEnum):
    """Where a job is in its life (docs/http-api.md): two active statuses, then the solver's
    endings (`OutcomeStatus`, whose values these are)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = OutcomeStatus.SUCCEEDED.value
    EXHAUSTED = OutcomeStatus.EXHAUSTED.value
    CANCELLED = OutcomeStatus.CANCELLED.value
    FAILED = OutcomeStatus.FAILED.value


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
TERMINAL = frozenset(JobStatus(ending.value) for ending in OutcomeStatus)
if frozenset(JobStatus) != ACTIVE | TERMINAL:  # pragma: no cover - caught at import
    raise ImportError("every JobStatus must be active or one of the solver's endings")
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.QUEUED,
            JobStatus.SUCCEEDED,
            JobStatus.EXHAUSTED,
            JobStatus.CANCELLED,
            JobStatus.FAILED,
        }
    ),
    **{status: frozenset() for status in TERMINAL},
}


def ending_status(event_type: str) -> JobStatus | None:
    """The terminal status an event of this type sets, or None for a non-terminal event."""
    ending = ENDING_OF_TYPE.get(event_type)
    return None if ending is None else JobStatus(ending.value)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column holds)."""
    return datetime.now(UTC)
