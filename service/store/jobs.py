"""Creating, finding and listing jobs, and the `Idempotency-Key` rule.

Every function flushes and never commits: the caller owns the transaction, so a job, its
`job.queued` event and its idempotency key become visible together or not at all.
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
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.budget import Budget, budget_left
from service.solver.events import JobQueued
from service.solver.request import SolveRequest
from service.store.bounds import ID_MAX_CHARS, ID_PATTERN
from service.store.errors import IdempotencyConflict, JobNotFound
from service.store.models import Event, IdempotencyKey, Job
from service.store.pagination import Page, decode_cursor, make_page, page_size
from service.store.status import JobStatus

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


def job_request(job: Job) -> SolveRequest:
    """The request the job was created from, typed again from its columns; raises
    `ValueError` (pydantic's `ValidationError` is one) if it no longer parses, as for a job
    written by an incompatible version."""
    return SolveRequest.model_validate(
        {
            "problem": job.problem,
            "strategy": job.strategy,
            "budget": job.budget,
            "sampling": job.sampling,
            "sdpo": job.sdpo,
            "seed": job.seed or 0,
            "metadata": job.metadata_,
        }
    )


def job_budget(job: Job) -> Budget:
    """The job's budget, typed (what its views and its stamps read, without the problem)."""
    return Budget.model_validate(job.budget)


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
        strategy=request.strategy,
        problem=request.problem.model_dump(mode="json"),
        budget=request.budget.model_dump(mode="json"),
        sdpo=request.sdpo.overrides(),
        sampling=request.sampling.overrides(),
        seed=request.seed,
        metadata_=dict(request.metadata),
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
