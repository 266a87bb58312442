"""The status state machine: the transition table, and a terminal move that persists."""

from __future__ import annotations

import pytest

from service.store import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    Job,
    JobAlreadyEnded,
    JobStatus,
    get_job,
    transition,
)
from service.store.claims import claim_next_job
from service.store.jobs import request_cancel
from tests.integration.service.store.helpers import T0, Sessions, new_job, run


def test_transitions_follow_the_table_and_reject_illegal_moves() -> None:
    for current in JobStatus:
        for to in JobStatus:
            job = Job(id="j", status=current, lease_owner="w")
            if to in ALLOWED_TRANSITIONS[current]:
                transition(job, to, now=T0)
                assert job.status is to
                assert (job.finished_at == T0) == (to not in {JobStatus.QUEUED, JobStatus.RUNNING})
            else:
                with pytest.raises(InvalidTransition):
                    transition(job, to, now=T0)
                assert job.status is current


def test_a_terminal_transition_persists(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            job = await get_job(session, job_id, for_update=True)
            with pytest.raises(InvalidTransition):
                transition(job, JobStatus.SUCCEEDED)
            transition(job, JobStatus.CANCELLED, now=T0)
        async with sessions() as session:
            job = await get_job(session, job_id)
            assert job.status is JobStatus.CANCELLED and job.finished_at == T0

    run(db_url, scenario)


def test_a_cancel_ends_a_queued_job_flags_a_running_one_and_refuses_an_ended_one(
    db_url: str,
) -> None:
    async def scenario(sessions: Sessions) -> None:
        queued, running = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            job = await request_cancel(session, queued, now=T0)
            assert job.status is JobStatus.CANCELLED and job.finished_at == T0
        async with sessions.begin() as session:
            claimed = await claim_next_job(session, "w", 30.0, T0)
            assert claimed is not None and claimed.id == running
            job = await request_cancel(session, running, now=T0)
            assert job.status is JobStatus.RUNNING and job.cancel_requested
        # The one rule behind the API's 409 and the WebSocket's `conflict` frame.
        async with sessions.begin() as session:
            with pytest.raises(JobAlreadyEnded, match=f"job {queued} already ended as cancelled"):
                await request_cancel(session, queued, now=T0)
        assert (JobAlreadyEnded.status_code, JobAlreadyEnded.code) == (409, "conflict")

    run(db_url, scenario)
