"""A job's attempts and adapter versions; both flush and never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, TypeAdapter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.attempts import AttemptRecord
from service.store.bounds import MAX_INDEX
from service.store.models import Adapter, Attempt, Job
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
        created_at=now,
    )
    session.add(row)
    await session.flush()
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


async def record_adapter(
    session: AsyncSession,
    job_id: str,
    *,
    version: int,
    name: str,
    int_id: int,
    path: str,
    sha256: str,
    now: datetime,
) -> Adapter:
    """Record a published adapter version and make it the job's current one."""
    row = Adapter(
        job_id=job_id,
        version=version,
        name=name,
        int_id=int_id,
        path=path,
        sha256=sha256,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(adapter_version=version)
        .execution_options(synchronize_session="fetch")
    )
    return row


async def latest_adapter(session: AsyncSession, job_id: str) -> Adapter | None:
    """The job's newest adapter version (what a resumed job loads), or None."""
    query = (
        select(Adapter).where(Adapter.job_id == job_id).order_by(Adapter.version.desc()).limit(1)
    )
    return (await session.scalars(query)).one_or_none()
