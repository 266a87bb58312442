"""What a claimed job restarts from, read in one place: its attempts, its newest adapter, the
seconds it has spent and how many times workers began it.

The worker turns this into the solver's `Resume` (`service/jobs/spec.py`), giving the adapter
a sampler id of its own process; the store knows nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from service.store.adapters import latest_adapter
from service.store.attempts import all_attempts
from service.store.events import count_starts
from service.store.models import Adapter, Job


@dataclass(frozen=True)
class ResumePoint:
    """Where a job restarts: after `start_attempt` attempts and `start_round` rounds, with
    the feedback they gave, from `adapter` (None before its first learning round)."""

    start_attempt: int
    start_round: int
    feedback_history: tuple[str, ...]
    adapter: Adapter | None
    elapsed_seconds: float
    starts: int  # the job's `job.started` events so far


async def resume_point(session: AsyncSession, job: Job) -> ResumePoint:
    """The job's resume point; `ValueError` if its stored attempts' indices are not
    0..n-1 (a resume would lose or count one twice)."""
    rows = await all_attempts(session, job.id)
    if [row.index for row in rows] != list(range(len(rows))):
        raise ValueError(f"job {job.id}: stored attempt indices are not 0..{len(rows) - 1}")
    return ResumePoint(
        start_attempt=len(rows),
        start_round=(rows[-1].round + 1) if rows else 0,
        feedback_history=tuple(row.feedback for row in rows if row.feedback),
        adapter=await latest_adapter(session, job.id),
        elapsed_seconds=job.elapsed_seconds,
        starts=await count_starts(session, job.id),
    )
