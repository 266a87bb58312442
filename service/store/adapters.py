"""A job's adapter versions: record a published one, find the newest and its weights file;
flush, never commit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.types import ADAPTER_FILE
from service.store.models import Adapter, Job


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


def weights_file(row: Adapter) -> Path:
    """The file that holds an adapter version's LoRA weights (in its checkpoint directory)."""
    return Path(row.path) / ADAPTER_FILE
