"""Jobs: creating, finding and listing them, the `Idempotency-Key` rule, and the moves that
carry data (a worker's progress and ending, a caller's cancel).

Every function flushes and never commits: the caller owns the transaction, so a job, its
`job.queued` event and its idempotency key become visible together or not at all, and a
move runs next to the event that announces it, so a job's row, its attempts and its event
log never disagree, whatever crashes in between.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, TypeAdapter
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.budget import Budget, BudgetLeft, budget_left
from service.solver.events import Event as SolverEvent
from service.solver.events import JobCancelled, JobFailed, JobQueued, JobSucceeded
from service.solver.request import SolveRequest
from service.store.bounds import ID_MAX_CHARS, ID_PATTERN
from service.store.errors import IdempotencyConflict, JobAlreadyEnded, JobNotFound
from service.store.events import append_event
from service.store.models import Event, IdempotencyKey, Job
from service.store.pagination import Page, decode_cursor, make_page, page_size
from service.store.status import ACTIVE, JobStatus, ending_status
from service.store.transitions import transition

ANONYMOUS_SCOPE = "anonymous"  # the embedded default's callers, who need no key


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 at -23:59
        raise ValueError("out of range in UTC") from exc


# A jobs cursor: the last job served, as (created_at, id).
JOB_CURSOR = TypeAdapter(
    tuple[
        Annotated[AwareDatetime, AfterValidator(_in_utc)],
        Annotated[str, Field(max_length=ID_MAX_CHARS, pattern=ID_PATTERN)],
    ]
)


@dataclass(frozen=True)
class NewJob:
    """A job to create: the request `POST /solve` validated, and whose it is."""

    request: SolveRequest
    api_key_id: str | None = None


def stored_request(request: SolveRequest) -> dict[str, Any]:
    """The request as the job row keeps it: SDPO and sampling settings only where the request
    set them, so that the rest follows the worker that runs the job."""
    return {
        **request.model_dump(mode="json", exclude={"sdpo", "sampling"}),
        "sdpo": request.sdpo.overrides(),
        "sampling": request.sampling.overrides(),
    }


def job_request(job: Job) -> SolveRequest:
    """The request the job was created from, typed again; raises `ValueError` (pydantic's
    `ValidationError` is one) if it no longer parses, as for a job written by an incompatible
    version."""
    return SolveRequest.model_validate(job.request)


def job_budget(job: Job) -> Budget:
    """The job's budget, typed (what its views and its stamps read, without the problem)."""
    return Budget.model_validate(job.request["budget"])


def job_strategy(job: Job) -> str:
    """The job's strategy name, as stored."""
    return str(job.request["strategy"])


def job_metadata(job: Job) -> dict[str, Any]:
    """The caller's metadata, as stored."""
    return dict(job.request.get("metadata", {}))


def request_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of a request body in canonical JSON: equal bodies, equal hashes."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_scope(api_key_id: str | None) -> str:
    """Keys are per caller: two callers may use the same key for different jobs."""
    return api_key_id or ANONYMOUS_SCOPE


async def create_job(
    session: AsyncSession, new: NewJob, *, now: datetime, body_hash: str | None = None
) -> Job:
    """Insert a queued job and its `job.queued` event (seq 1): a new job has no other
    appender, so its first seq needs no `append_event` bump."""
    request = new.request
    left = budget_left(request.budget, attempts_used=0, rounds=0, elapsed_seconds=0.0)
    queued = JobQueued(attempts_used=0, budget_left=left)
    job = Job(
        id=str(uuid.uuid4()),
        api_key_id=new.api_key_id,
        status=JobStatus.QUEUED,
        request=stored_request(request),
        request_hash=body_hash,
        last_event_seq=1,
        elapsed_seconds=0.0,
        created_at=now,
    )
    payload = queued.model_dump(mode="json")
    first = Event(job_id=job.id, seq=1, type=queued.type, payload=payload, at=now)
    session.add(job)
    await session.flush()  # the job row first: the event's foreign key needs it
    session.add(first)
    await session.flush()
    return job


async def find_idempotent_job(
    session: AsyncSession, api_key_id: str | None, key: str, body_hash: str
) -> Job | None:
    """The job an earlier request with this key created, or None; `IdempotencyConflict` if
    that request had another body."""
    row = await session.get(IdempotencyKey, (idempotency_scope(api_key_id), key))
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise IdempotencyConflict(key, row.job_id)
    return await get_job(session, row.job_id)


async def submit_job(
    session: AsyncSession, new: NewJob, *, now: datetime, key: str, body_hash: str
) -> tuple[Job, bool]:
    """The job for `key`: the existing one, or a new one; the flag says whether it is new.

    Two concurrent first requests with one key both insert; the loser's unique violation is
    rolled back to a savepoint and it answers with the winner's job.
    """
    existing = await find_idempotent_job(session, new.api_key_id, key, body_hash)
    if existing is not None:
        return existing, False
    try:
        async with session.begin_nested():
            job = await create_job(session, new, now=now, body_hash=body_hash)
            scope = idempotency_scope(new.api_key_id)
            session.add(
                IdempotencyKey(
                    scope=scope, key=key, request_hash=body_hash, job_id=job.id, created_at=now
                )
            )
    except IntegrityError:
        winner = await find_idempotent_job(session, new.api_key_id, key, body_hash)
        if winner is None:
            raise
        return winner, False
    return job, True


async def get_job(session: AsyncSession, job_id: str, *, for_update: bool = False) -> Job:
    """The job, or `JobNotFound`; `for_update` locks its row until the transaction ends."""
    query = select(Job).where(Job.id == job_id)
    if for_update:
        query = query.with_for_update()
    job = (await session.scalars(query)).one_or_none()
    if job is None:
        raise JobNotFound(job_id)
    return job


async def get_owned_job(
    session: AsyncSession, job_id: str, api_key_id: str | None, *, for_update: bool = False
) -> Job:
    """The caller's job; another caller's job is `JobNotFound` too, so ids leak nothing."""
    job = await get_job(session, job_id, for_update=for_update)
    if job.api_key_id != api_key_id:
        raise JobNotFound(job_id)
    return job


def owned_by(api_key_id: str | None) -> ColumnElement[bool]:
    """The filter that selects one caller's jobs (the anonymous scope's when None)."""
    return Job.api_key_id.is_(None) if api_key_id is None else Job.api_key_id == api_key_id


async def list_jobs(
    session: AsyncSession, api_key_id: str | None, *, cursor: str | None = None, limit: int = 50
) -> Page[Job]:
    """One caller's jobs, newest first (ties broken by id)."""
    limit = page_size(limit)
    query = select(Job).where(owned_by(api_key_id))
    if cursor is not None:
        created_at, job_id = decode_cursor(cursor, JOB_CURSOR)
        query = query.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id))
        )
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    rows = (await session.scalars(query)).all()
    return make_page(rows, limit, lambda job: (job.created_at.isoformat(), job.id))


async def count_active_jobs(session: AsyncSession, api_key_id: str | None) -> int:
    """The caller's queued and running jobs (the per-key limit)."""
    active = Job.status.in_(list(ACTIVE))
    query = select(func.count()).select_from(Job).where(owned_by(api_key_id), active)
    return int((await session.scalar(query)) or 0)


# --- the moves that carry data ----------------------------------------------------------------


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


async def request_cancel(session: AsyncSession, job_id: str, *, now: datetime) -> Job:
    """Cancel a job: a queued job ends at once (with its event); a running one is flagged
    for its worker, which stops at its next phase boundary; one that has ended raises
    `JobAlreadyEnded` (the HTTP and WebSocket answers both come from it)."""
    job = await get_job(session, job_id, for_update=True)
    if job.status is JobStatus.QUEUED:
        cancelled = JobCancelled(attempts_used=job.attempts_used, budget_left=budget_left_now(job))
        await finish_with(session, job, cancelled, now=now)
    elif job.status is JobStatus.RUNNING:
        job.cancel_requested = True
        await session.flush()
    else:
        raise JobAlreadyEnded(job_id, job.status.value)
    return job


async def fail_held_job(
    session: AsyncSession, job_id: str, worker_id: str, reason: str, *, now: datetime
) -> Job | None:
    """End the running job that `worker_id` holds as failed with `reason` (a poison job, a
    stored request that no longer parses); None, and nothing written, when the job is not
    running or is not that worker's any more."""
    job = await session.get(Job, job_id, with_for_update=True)
    if job is None or job.status is not JobStatus.RUNNING or job.lease_owner != worker_id:
        return None
    failed = JobFailed(
        attempts_used=job.attempts_used, budget_left=budget_left_now(job), reason=reason
    )
    await finish_with(session, job, failed, now=now)
    return job
