"""A job's attempts: store one with the job's counts, list them, pick the best; flush, never
commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.attempts import AttemptRecord
from service.store.bounds import MAX_INDEX
from service.store.models import Attempt, Job
from service.store.pagination import Page, decode_cursor, make_page, page_size

# An attempts cursor: the index of the last attempt served.
ATTEMPT_CURSOR = TypeAdapter(tuple[Annotated[int, Field(ge=0, le=MAX_INDEX)]])


async def add_attempt(
    session: AsyncSession, job_id: str, record: AttemptRecord, *, now: datetime
) -> Attempt:
    """Store one judged attempt; a second attempt with the same index violates the key."""
    row = Attempt(
        job_id=job_id,
        index=record.index,
        round=record.round,
        response=record.response,
        code=record.code,
        verdict=record.verdict.value,
        public_verdict=record.public_verdict.value,
        confirmation=record.confirmation.value,
        passed=record.passed,
        total=record.total,
        feedback=record.feedback,
        tokens=record.tokens,
        truncated=record.truncated,
        dropped=record.dropped,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def record_attempt(
    session: AsyncSession, job: Job, record: AttemptRecord, *, now: datetime
) -> Attempt:
    """Store a judged attempt and advance the job's counts with it."""
    row = await add_attempt(session, job.id, record, now=now)
    job.attempts_used = max(job.attempts_used, record.index + 1)
    job.rounds = max(job.rounds, record.round + 1)
    return row


async def list_attempts(
    session: AsyncSession, job_id: str, *, cursor: str | None = None, limit: int = 50
) -> Page[Attempt]:
    """The job's attempts by index, one page at a time."""
    limit = page_size(limit)
    query = select(Attempt).where(Attempt.job_id == job_id)
    if cursor is not None:
        (after,) = decode_cursor(cursor, ATTEMPT_CURSOR)
        query = query.where(Attempt.index > after)
    query = query.order_by(Attempt.index).limit(limit + 1)
    rows = (await session.scalars(query)).all()
    return make_page(rows, limit, lambda attempt: (attempt.index,))


async def all_attempts(session: AsyncSession, job_id: str) -> Sequence[Attempt]:
    """Every attempt of the job, by index (what a resumed job restarts after)."""
    query = select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.index)
    return (await session.scalars(query)).all()


async def best_attempt(session: AsyncSession, job_id: str) -> Attempt | None:
    """The attempt that passed the most public tests (the earliest among equals)."""
    query = (
        select(Attempt)
        .where(Attempt.job_id == job_id)
        .order_by(Attempt.passed.desc(), Attempt.index)
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()
