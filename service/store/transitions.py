"""The one function that moves a job between statuses (`status.py` lists the moves)."""

from __future__ import annotations

from datetime import datetime

from service.store.errors import InvalidTransition
from service.store.models import Job
from service.store.status import ALLOWED_TRANSITIONS, TERMINAL, JobStatus, utcnow


def transition(job: Job, to: JobStatus, *, now: datetime | None = None) -> None:
    """Move `job` to `to`, or raise `InvalidTransition`; a terminal move stamps `finished_at`
    and drops the lease, since nobody works on a finished job."""
    if to not in ALLOWED_TRANSITIONS[job.status]:
        raise InvalidTransition(job.id, job.status, to)
    job.status = to
    if to in TERMINAL:
        job.finished_at = now or utcnow()
    if to in TERMINAL or to is JobStatus.QUEUED:
        job.lease_owner = None
        job.lease_expires_at = None
