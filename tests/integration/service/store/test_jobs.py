"""Jobs: the `Idempotency-Key` rule under concurrent first requests, and the caller's job list
page by page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from service.store import IdempotencyConflict, InvalidCursor, create_api_key, list_jobs, submit_job
from tests.integration.service.store.helpers import (
    T0,
    Sessions,
    collect,
    make_new_job,
    new_job,
    run,
)


def test_an_idempotency_key_returns_the_same_job(db_url: str) -> None:
    async def submit(sessions: Sessions, body_hash: str, **overrides: Any) -> tuple[str, bool]:
        async with sessions.begin() as session:
            new = make_new_job(**overrides)
            job, created = await submit_job(session, new, now=T0, key="k1", body_hash=body_hash)
            return job.id, created

    async def scenario(sessions: Sessions) -> None:
        results = await asyncio.gather(*(submit(sessions, "h" * 64) for _ in range(5)))
        assert len({job_id for job_id, _ in results}) == 1
        assert sorted(created for _, created in results) == [False] * 4 + [True]
        with pytest.raises(IdempotencyConflict):
            await submit(sessions, "x" * 64)
        async with sessions.begin() as session:
            key, _ = await create_api_key(session, "other", now=T0)
        other, created = await submit(sessions, "h" * 64, api_key_id=key.id)
        assert created and other != results[0][0], "keys are scoped per caller"

    run(db_url, scenario)


def test_the_job_list_returns_every_job_once_newest_first(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        # equal created_at values on purpose: the id breaks the tie
        jobs = [await new_job(sessions, T0 + timedelta(seconds=i // 2)) for i in range(5)]
        async with sessions() as session:
            listed = await collect(lambda c: list_jobs(session, None, cursor=c, limit=2))
            assert sorted(job.id for job in listed) == sorted(jobs)
            keys = [(job.created_at, job.id) for job in listed]
            assert keys == sorted(keys, reverse=True), "newest first, each job once"
            with pytest.raises(InvalidCursor):
                await list_jobs(session, None, cursor="not-a-cursor")

    run(db_url, scenario)
