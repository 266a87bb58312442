"""From a stored job to the solver's inputs: its `SolveSpec` (the stored request plus this
worker's settings), and the `Resume` built from the store's resume point."""

from __future__ import annotations

from pathlib import Path

from service.config import Settings
from service.engine.types import AdapterRef, next_int_id
from service.solver.spec import SolverSettings, SolveSpec
from service.solver.strategies import Resume
from service.store.jobs import job_request
from service.store.models import Job
from service.store.resume import ResumePoint


def job_spec(job: Job, settings: Settings) -> SolveSpec:
    """The solver's view of a stored job: its request as the store hands it back, and this
    worker's settings; raises `ValueError` if the stored request no longer parses (a job
    written by an incompatible version)."""
    return SolveSpec(job.id, job_request(job), SolverSettings.from_settings(settings))


def resume_from(job_id: str, point: ResumePoint) -> Resume:
    """Where the job restarts (`store.resume.resume_point`): after its persisted attempts,
    with its newest adapter.

    The adapter gets a fresh sampler id: ids are unique only within the process that minted
    them. Seconds already spent are the row's own, written with each event.
    """
    ref = None
    if point.adapter is not None:
        ref = AdapterRef(
            job_id=job_id,
            version=point.adapter.version,
            name=point.adapter.name,
            int_id=next_int_id(),
            path=Path(point.adapter.path),
            sha256=point.adapter.sha256,
        )
    return Resume(
        start_attempt=point.start_attempt,
        start_round=point.start_round,
        adapter=ref,
        feedback_history=point.feedback_history,
        elapsed_seconds=point.elapsed_seconds,
    )
