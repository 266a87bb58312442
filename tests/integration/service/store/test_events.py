"""A job's event log: seqs per job with no gap or duplicate under concurrent appenders, and
the count of a job's starts."""

from __future__ import annotations

import asyncio

from sandbox.results import Verdict
from service.solver.budget import BudgetLeft
from service.solver.events import AttemptFinished, JobStarted
from service.store import append_event, count_starts, list_events_after, parse_event
from tests.integration.service.store.helpers import T0, Sessions, new_job, round_started, run


def test_event_seqs_count_from_one_per_job(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        first, second = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            for round_ in range(3):
                await append_event(session, first, round_started(round_), now=T0)
            await append_event(session, second, round_started(0), now=T0)
        async with sessions() as session:
            events = await list_events_after(session, first)
            assert [event.seq for event in events] == [1, 2, 3, 4]
            assert [event.type for event in events][:2] == ["job.queued", "round.started"]
            assert parse_event(events[-1]) == round_started(2)
            assert [e.seq for e in await list_events_after(session, first, 2)] == [3, 4]
            assert [e.seq for e in await list_events_after(session, second)] == [1, 2]

    run(db_url, scenario)


def test_concurrent_appenders_never_duplicate_a_seq(db_url: str) -> None:
    appenders = 20

    async def append_one(sessions: Sessions, job_id: str, index: int) -> None:
        event = AttemptFinished(
            attempts_used=index + 1,
            budget_left=BudgetLeft(attempts=0, seconds=1.0),
            index=index,
            verdict=Verdict.ACCEPTED,
            passed=1,
            total=1,
        )
        async with sessions.begin() as session:
            await append_event(session, job_id, event, now=T0)

    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        await asyncio.gather(*(append_one(sessions, job_id, i) for i in range(appenders)))
        async with sessions() as session:
            events = await list_events_after(session, job_id)
        assert [event.seq for event in events] == list(range(1, appenders + 2))
        indexes = sorted(event.payload["index"] for event in events[1:])
        assert indexes == list(range(appenders))

    run(db_url, scenario)


def test_count_starts_counts_the_job_started_events_of_that_job(db_url: str) -> None:
    left = BudgetLeft(attempts=8, seconds=60.0)
    started = JobStarted(attempts_used=0, budget_left=left, strategy="sdpo")

    async def scenario(sessions: Sessions) -> None:
        job_id, other = await new_job(sessions), await new_job(sessions)
        async with sessions.begin() as session:
            assert await count_starts(session, job_id) == 0
            for _ in range(2):
                await append_event(session, job_id, started, now=T0)
            await append_event(session, job_id, round_started(0), now=T0)
            await append_event(session, other, started, now=T0)
        async with sessions() as session:
            assert await count_starts(session, job_id) == 2
            assert await count_starts(session, other) == 1

    run(db_url, scenario)
