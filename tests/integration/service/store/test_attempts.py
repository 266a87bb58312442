"""A job's attempts: unique per job and index, listed page by page, the best one picked, and
a recorded attempt advancing the job's counts."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from service.api.views import attempt_view
from service.store import add_attempt, get_job, list_attempts, record_attempt
from service.store.attempts import best_attempt
from tests.integration.service.store.helpers import (
    T0,
    Sessions,
    collect,
    make_attempt,
    new_job,
    run,
)


def test_attempts_are_unique_per_job_and_index(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id, other = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            await add_attempt(session, job_id, make_attempt(0), now=T0)
            await add_attempt(session, other, make_attempt(0), now=T0)
        with pytest.raises(IntegrityError):
            async with sessions.begin() as session:
                await add_attempt(session, job_id, make_attempt(0), now=T0)

    run(db_url, scenario)


def test_the_attempt_list_returns_every_attempt_once_in_order(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions.begin() as session:
            for index in range(7):
                await add_attempt(session, job_id, make_attempt(index), now=T0)
        async with sessions() as session:
            attempts = await collect(lambda c: list_attempts(session, job_id, cursor=c, limit=3))
            assert [attempt.index for attempt in attempts] == list(range(7))

    run(db_url, scenario)


def test_a_recorded_attempt_advances_the_counts_and_the_best_passes_most(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions() as session:
            assert await best_attempt(session, job_id) is None
        async with sessions.begin() as session:
            job = await get_job(session, job_id, for_update=True)
            for index, passed in enumerate([1, 2, 2, 0, 1]):
                await record_attempt(session, job, make_attempt(index, passed=passed), now=T0)
        async with sessions() as session:
            job = await get_job(session, job_id)
            assert (job.attempts_used, job.rounds) == (5, 2)
            best = await best_attempt(session, job_id)
            assert best is not None and best.index == 1, "the most passed, the earliest of them"

    run(db_url, scenario)


def test_the_judged_code_and_the_dropped_test_code_come_back_as_stored(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        record = make_attempt(0, code="def f():\n    return 1", dropped="assert f() == 2")
        async with sessions.begin() as session:
            await add_attempt(session, job_id, record, now=T0)
        async with sessions() as session:
            (row,) = await collect(lambda c: list_attempts(session, job_id, cursor=c, limit=3))
        view = attempt_view(row)
        assert (view.code, view.dropped) == ("def f():\n    return 1", "assert f() == 2")

    run(db_url, scenario)
