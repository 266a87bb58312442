"""How workers hold jobs: claim with a lease, renew it (the heartbeat), release it.

One code path serves both dialects. The candidate SELECT carries `FOR UPDATE SKIP LOCKED`,
which Postgres honours (concurrent claimers skip each other's candidate rows instead of
waiting) and SQLite's compiler drops. The UPDATE that takes the job repeats the claimable
condition in its WHERE, so it is a conditional UPDATE: on SQLite, whose transactions begin
IMMEDIATE (`db.py`), it runs under the single write lock; on Postgres the row is already ours.
A lapsed lease is claimed again without a status move: the job stays `running`, and the new
owner resumes it from its last adapter and attempt count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.store.errors import LeaseLost
from service.store.models import Job
from service.store.status import JobStatus
from service.store.transitions import transition


def _claimable(now: datetime) -> ColumnElement[bool]:
    lapsed = and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
    return or_(Job.status == JobStatus.QUEUED, lapsed)


async def claim_next_job(
    session: AsyncSession, worker_id: str, lease_s: float, now: datetime
) -> Job | None:
    """Take the oldest claimable job for `worker_id` until `now + lease_s`, or None.

    None also when another SQLite connection won the same candidate; the caller polls again.
    """
    candidate = (
        select(Job.id)
        .where(_claimable(now))
        .order_by(Job.created_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    job_id = (await session.scalars(candidate)).one_or_none()
    if job_id is None:
        return None
    take = (
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_s),
            heartbeat_at=now,
            started_at=func.coalesce(Job.started_at, now),
        )
        .returning(Job)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(take)).one_or_none()


async def renew_lease(
    session: AsyncSession, job_id: str, worker_id: str, lease_s: float, now: datetime
) -> Job:
    """Extend the worker's lease (the heartbeat); `LeaseLost` if it holds the job no more.

    The returned job is fresh, so the worker sees `cancel_requested` at each heartbeat.
    """
    renew = (
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker_id, Job.status == JobStatus.RUNNING)
        .values(lease_expires_at=now + timedelta(seconds=lease_s), heartbeat_at=now)
        .returning(Job)
        .execution_options(populate_existing=True)
    )
    job = (await session.scalars(renew)).one_or_none()
    if job is None:
        raise LeaseLost(job_id, worker_id)
    return job


async def release(
    session: AsyncSession, job_id: str, worker_id: str, *, requeue: bool = False
) -> Job:
    """Drop the worker's lease; `requeue` hands the running job back to the queue (a
    graceful shutdown). A finished job's lease is dropped by `transition` already."""
    query = select(Job).where(Job.id == job_id).with_for_update()
    job = (await session.scalars(query)).one_or_none()
    if job is None or job.lease_owner != worker_id:
        raise LeaseLost(job_id, worker_id)
    if requeue:
        transition(job, JobStatus.QUEUED)
    job.lease_owner = None
    job.lease_expires_at = None
    await session.flush()
    return job
