"""What a claimed job restarts from (`resume_point`): after its attempts, with their feedback,
from its newest adapter, with the seconds and the starts its row and log recorded."""

from __future__ import annotations

import pytest

from service.solver.budget import BudgetLeft
from service.solver.events import JobStarted
from service.store import (
    add_attempt,
    append_event,
    get_job,
    record_attempt,
    resume_point,
)
from tests.integration.service.store.helpers import (
    T0,
    Sessions,
    make_attempt,
    new_job,
    record_versions,
    run,
)


def test_a_new_job_resumes_from_the_start(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions() as session:
            point = await resume_point(session, await get_job(session, job_id))
        assert (point.start_attempt, point.start_round, point.starts) == (0, 0, 0)
        assert point.feedback_history == () and point.adapter is None
        assert point.elapsed_seconds == 0.0

    run(db_url, scenario)


def test_a_job_resumes_after_its_attempts_from_its_newest_adapter(db_url: str) -> None:
    started = JobStarted(
        attempts_used=0, budget_left=BudgetLeft(attempts=8, seconds=60.0), strategy="sdpo"
    )

    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            job = await get_job(session, job_id, for_update=True)
            await append_event(session, job_id, started, now=T0)
            for index in range(5):
                feedback = "" if index == 2 else f"feedback {index}"
                await record_attempt(session, job, make_attempt(index, feedback=feedback), now=T0)
            await record_versions(session, job_id, (1, 2))
            job.elapsed_seconds = 12.5
            await append_event(session, job_id, started, now=T0)
        async with sessions() as session:
            point = await resume_point(session, await get_job(session, job_id))
        assert (point.start_attempt, point.start_round, point.starts) == (5, 2, 2)
        assert point.feedback_history == tuple(f"feedback {i}" for i in (0, 1, 3, 4))
        assert point.adapter is not None and point.adapter.version == 2
        assert point.adapter.path == "/a/2"
        assert point.elapsed_seconds == 12.5

    run(db_url, scenario)


def test_a_gap_in_the_stored_attempts_refuses_to_resume(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            for index in (0, 2):
                await add_attempt(session, job_id, make_attempt(index), now=T0)
        async with sessions() as session:
            job = await get_job(session, job_id)
            with pytest.raises(ValueError, match="not 0..1"):
                await resume_point(session, job)

    run(db_url, scenario)
