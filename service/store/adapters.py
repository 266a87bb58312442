"""A job's adapter versions: record a published one, find the newest and the weights file to
serve; flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.engine.layout import job_key, versions_on_disk
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


@dataclass(frozen=True)
class ServedWeights:
    """The weights file the API serves for a job, with the version and sha256 it holds."""

    path: Path
    version: int
    sha256: str


def served_weights(row: Adapter, adapters_dir: Path) -> ServedWeights | None:
    """The newest version's weights where the worker published them, when this host sees them
    (the checkpoint folder, or the same machine's shared memory); else the newest version at or
    before it in the job's checkpoint folder (a GPU worker publishes to its own shared memory
    and writes a durable checkpoint every few steps and at the job's end)."""
    published = Path(row.path) / ADAPTER_FILE
    if published.is_file():
        return ServedWeights(published, row.version, row.sha256)
    durable = [
        (manifest, path)
        for manifest, path in versions_on_disk(adapters_dir / job_key(row.job_id))
        if manifest.version <= row.version and (path / ADAPTER_FILE).is_file()
    ]
    if not durable:
        return None
    manifest, path = durable[-1]
    return ServedWeights(path / ADAPTER_FILE, manifest.version, manifest.adapter_sha256)
