"""Rows to wire models."""

from __future__ import annotations

from typing import cast

from sandbox.results import Verdict
from service.api.schemas import (
    AttemptSummary,
    AttemptView,
    EventView,
    JobLinks,
    JobSummary,
    JobView,
)
from service.solver.strategies import StrategyName
from service.store.jobs import job_budget, job_metadata, job_strategy
from service.store.models import Attempt, Event, Job
from service.store.status import JobStatus


def job_links(job_id: str) -> JobLinks:
    """Where to follow a job (paths relative to the API's root)."""
    base = f"/jobs/{job_id}"
    return JobLinks(
        self=base,
        attempts=f"{base}/attempts",
        events=f"{base}/events",
        websocket=f"{base}/ws",
        cancel=f"{base}/cancel",
        adapter=f"{base}/adapter",
    )


def job_view(job: Job, best: Attempt | None) -> JobView:
    """`GET /jobs/{id}`."""
    return JobView(
        id=job.id,
        status=job.status,
        strategy=cast(StrategyName, job_strategy(job)),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts_used=job.attempts_used,
        rounds=job.rounds,
        budget=job_budget(job),
        best_attempt=None if best is None else attempt_summary(best),
        discovery_index=job.discovery_index,
        solution=job.solution,
        adapter_version=job.adapter_version,
        failure_reason=job.failure_reason,
        cancel_requested=job.cancel_requested,
        worker=holder(job),
        metadata=job_metadata(job),
        links=job_links(job.id),
    )


def holder(job: Job) -> str | None:
    """The worker holding a running job; a queued or finished job has none."""
    return job.lease_owner if job.status is JobStatus.RUNNING else None


def job_summary(job: Job) -> JobSummary:
    """A job in a list."""
    return JobSummary(
        id=job.id,
        status=job.status,
        strategy=cast(StrategyName, job_strategy(job)),
        created_at=job.created_at,
        finished_at=job.finished_at,
        attempts_used=job.attempts_used,
        max_attempts=job_budget(job).max_attempts,
        worker=holder(job),
        metadata=job_metadata(job),
    )


def attempt_summary(row: Attempt) -> AttemptSummary:
    """An attempt in a job's view."""
    return AttemptSummary(
        index=row.index,
        round=row.round,
        verdict=Verdict(row.verdict),
        passed=row.passed,
        total=row.total,
    )


def attempt_view(row: Attempt) -> AttemptView:
    """An attempt in `GET /jobs/{id}/attempts`."""
    return AttemptView(
        index=row.index,
        round=row.round,
        verdict=Verdict(row.verdict),
        public_verdict=Verdict(row.public_verdict),
        confirmation=row.confirmation,
        passed=row.passed,
        total=row.total,
        code=row.code,
        dropped=row.dropped,
        response=row.response,
        feedback=row.feedback,
        tokens=row.tokens,
        truncated=row.truncated,
        created_at=row.created_at,
    )


def event_view(row: Event) -> EventView:
    """An event as it goes out: the stored payload plus `job_id`, `seq` and `at`."""
    return EventView.model_validate(
        {**row.payload, "job_id": row.job_id, "seq": row.seq, "at": row.at}
    )
