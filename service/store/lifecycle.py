"""The job moves that carry data: a worker's progress and ending, and a caller's cancel.

Each runs inside the caller's transaction next to the event that announces it, so a job's
row, its attempts and its event log never disagree, whatever crashes in between.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.attempts import AttemptRecord
from service.solver.budget import BudgetLeft, budget_left
from service.solver.events import Event as SolverEvent
from service.solver.events import JobCancelled, JobFailed, JobSucceeded
from service.store.events import append_event
from service.store.jobs import get_job, job_budget
from service.store.models import Attempt, Event, Job
from service.store.records import add_attempt
from service.store.status import ACTIVE, JobStatus, ending_status, transition


async def record_attempt(
    session: AsyncSession, job: Job, record: AttemptRecord, *, now: datetime
) -> Attempt:
    """Store a judged attempt and advance the job's counts with it."""
    row = await add_attempt(session, job.id, record, now=now)
    job.attempts_used = max(job.attempts_used, record.index + 1)
    job.rounds = max(job.rounds, record.round + 1)
    return row


def apply_event(job: Job, event: SolverEvent, *, now: datetime) -> None:
    """What an event changes on the job row: a round count, or the job's ending."""
    if event.type == "round.started":
        job.rounds = max(job.rounds, event.round + 1)
        return
    ending = ending_status(event.type)
    if ending is None:
        return
    transition(job, ending, now=now)
    job.attempts_used = event.attempts_used
    if isinstance(event, JobSucceeded):
        job.solution, job.discovery_index = event.solution, event.attempt
    elif isinstance(event, JobFailed):
        job.failure_reason = event.reason


async def finish_with(
    session: AsyncSession, job: Job, event: SolverEvent, *, now: datetime
) -> Event:
    """End `job` with a terminal event written by us, not by a solver (a poison job, a job
    whose stored request no longer parses)."""
    apply_event(job, event, now=now)
    return await append_event(session, job.id, event, now=now)


def budget_left_now(job: Job) -> BudgetLeft:
    """A budget stamp for events written outside the solver, from the row's own counts and
    the seconds its runs recorded (only the solver times a job)."""
    return budget_left(
        job_budget(job),
        attempts_used=job.attempts_used,
        rounds=job.rounds,
        elapsed_seconds=job.elapsed_seconds,
    )


async def request_cancel(
    session: AsyncSession, job_id: str, *, now: datetime
) -> tuple[Job, Event | None]:
    """Cancel a job: a queued job ends at once (with its event); a running one is flagged
    for its worker, which stops at its next phase boundary. A finished job is left as is."""
    job = await get_job(session, job_id, for_update=True)
    if job.status is JobStatus.QUEUED:
        cancelled = JobCancelled(attempts_used=job.attempts_used, budget_left=budget_left_now(job))
        return job, await finish_with(session, job, cancelled, now=now)
    if job.status is JobStatus.RUNNING:
        job.cancel_requested = True
        await session.flush()
    return job, None


async def count_active_jobs(session: AsyncSession, api_key_id: str | None) -> int:
    """The caller's queued and running jobs (the per-key limit)."""
    owner = Job.api_key_id.is_(None) if api_key_id is None else Job.api_key_id == api_key_id
    query = select(func.count()).select_from(Job).where(owner, Job.status.in_(list(ACTIVE)))
    return int((await session.scalar(query)) or 0)


async def count_starts(session: AsyncSession, job_id: str) -> int:
    """How many times workers began the job (its `job.started` events)."""
    query = (
        select(func.count())
        .select_from(Event)
        .where(Event.job_id == job_id, Event.type == "job.started")
    )
    return int((await session.scalar(query)) or 0)


async def best_attempt(session: AsyncSession, job_id: str) -> Attempt | None:
    """The attempt that passed the most public tests (the earliest among equals)."""
    query = (
        select(Attempt)
        .where(Attempt.job_id == job_id)
        .order_by(Attempt.passed.desc(), Attempt.index)
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()
