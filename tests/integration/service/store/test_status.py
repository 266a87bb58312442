"""The status state machine: the transition table, and a terminal move that persists."""

from __future__ import annotations

import pytest

from service.store import (
    ALLOWED_TRANSITIONS,
    InvalidTransition,
    Job,
    JobStatus,
    get_job,
    transition,
)
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
