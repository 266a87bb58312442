"""A job's event log: append with the next `seq`, read back after a seq (SSE replay), count
its starts.

`seq` comes from `jobs.last_event_seq`, bumped by one `UPDATE ... RETURNING`. The UPDATE takes
the job row's lock on Postgres and the database's write lock on SQLite (transactions begin
IMMEDIATE, see `db.py`), so concurrent appenders to one job queue behind each other until the
holder commits: seqs are 1, 2, 3, ... with no gaps or duplicates, and a rolled-back append
rolls its seq back with it. Appenders to different jobs do not contend on Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.solver.events import EVENT_ADAPTER
from service.solver.events import Event as SolverEvent
from service.store.errors import JobNotFound
from service.store.models import Event, Job


async def append_event(
    session: AsyncSession, job_id: str, event: SolverEvent, *, now: datetime
) -> Event:
    """Append `event` to the job's log with the next seq; flushes, never commits."""
    bump = (
        update(Job)
        .where(Job.id == job_id)
        .values(last_event_seq=Job.last_event_seq + 1)
        .returning(Job.last_event_seq)
        .execution_options(synchronize_session=False)
    )
    seq = (await session.execute(bump)).scalar_one_or_none()
    if seq is None:
        raise JobNotFound(job_id)
    row = Event(
        job_id=job_id,
        seq=seq,
        type=event.type,
        payload=event.model_dump(mode="json"),
        at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_events_after(
    session: AsyncSession, job_id: str, after_seq: int = 0, *, limit: int | None = None
) -> Sequence[Event]:
    """The job's events with `seq > after_seq`, in order (`Last-Event-ID` replay)."""
    query = select(Event).where(Event.job_id == job_id, Event.seq > after_seq).order_by(Event.seq)
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


def parse_event(row: Event) -> SolverEvent:
    """The stored event as the solver's model (without `job_id`, `seq`, `at`)."""
    return EVENT_ADAPTER.validate_python(row.payload)


async def count_starts(session: AsyncSession, job_id: str) -> int:
    """How many times workers began the job (its `job.started` events)."""
    query = (
        select(func.count())
        .select_from(Event)
        .where(Event.job_id == job_id, Event.type == "job.started")
    )
    return int((await session.scalar(query)) or 0)
