"""From a stored job to the solver's inputs: its `SolveSpec` (the stored request plus this
worker's settings), and where a resumed job restarts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.engine.adapters import next_int_id
from service.engine.types import AdapterRef
from service.solver.spec import SolverSettings, SolveSpec
from service.solver.strategies import Resume
from service.store.jobs import job_request
from service.store.models import Attempt, Job
from service.store.records import latest_adapter


def job_spec(job: Job, settings: Settings) -> SolveSpec:
    """The solver's view of a stored job: its request as the store hands it back, and this
    worker's settings; raises `ValueError` if the stored request no longer parses (a job
    written by an incompatible version)."""
    return SolveSpec(job.id, job_request(job), SolverSettings.from_settings(settings))


async def load_resume(session: AsyncSession, job: Job) -> Resume:
    """Where the job restarts: after its persisted attempts, with its newest adapter.

    The adapter gets a fresh sampler id: ids are unique only within the process that minted
    them. Seconds already spent are the row's own, written with each event.
    """
    rows = (
        await session.scalars(
            select(Attempt).where(Attempt.job_id == job.id).order_by(Attempt.index)
        )
    ).all()
    if [row.index for row in rows] != list(range(len(rows))):
        raise ValueError(f"job {job.id}: stored attempt indices are not 0..{len(rows) - 1}")
    adapter = await latest_adapter(session, job.id)
    ref = None
    if adapter is not None:
        ref = AdapterRef(
            job_id=job.id,
            version=adapter.version,
            name=adapter.name,
            int_id=next_int_id(),
            path=Path(adapter.path),
            sha256=adapter.sha256,
        )
    return Resume(
        start_attempt=len(rows),
        start_round=(rows[-1].round + 1) if rows else 0,
        adapter=ref,
        feedback_history=tuple(row.feedback for row in rows if row.feedback),
        elapsed_seconds=job.elapsed_seconds,
    )
