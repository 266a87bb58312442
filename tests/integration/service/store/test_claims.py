"""Claims and leases: one job per claimer, a lapsed lease claimed again, renew and release by
the owner only."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from service.store import Job, JobStatus, LeaseLost, claim_next_job, release, renew_lease
from tests.integration.service.store.helpers import T0, Sessions, new_job, run


def test_two_workers_never_claim_the_same_job(db_url: str) -> None:
    jobs, workers = 4, 10

    async def claim(sessions: Sessions, worker: str) -> str | None:
        async with sessions.begin() as session:
            job = await claim_next_job(session, worker, 30.0, T0)
            return None if job is None else job.id

    async def scenario(sessions: Sessions) -> None:
        created = {await new_job(sessions, T0 + timedelta(seconds=i)) for i in range(jobs)}
        claimed = await asyncio.gather(*(claim(sessions, f"w{i}") for i in range(workers)))
        taken = [job_id for job_id in claimed if job_id is not None]
        assert sorted(taken) == sorted(created)

    run(db_url, scenario)


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(db_url: str) -> None:
    async def claim(sessions: Sessions, worker: str, at: datetime) -> Job | None:
        async with sessions.begin() as session:
            return await claim_next_job(session, worker, 30.0, at)

    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        first = await claim(sessions, "a", T0)
        assert first is not None and first.id == job_id and first.lease_owner == "a"
        assert first.status is JobStatus.RUNNING and first.started_at == T0
        assert await claim(sessions, "b", T0 + timedelta(seconds=29)) is None
        again = await claim(sessions, "b", T0 + timedelta(seconds=31))
        assert again is not None and again.id == job_id and again.lease_owner == "b"
        assert again.started_at == T0, "a resumed job keeps its first start"
        await check_lease_owner(sessions, job_id)

    run(db_url, scenario)


async def check_lease_owner(sessions: Sessions, job_id: str) -> None:
    """Only the lease's owner renews or releases it; a release may requeue the job."""
    later = T0 + timedelta(seconds=40)
    async with sessions.begin() as session:
        with pytest.raises(LeaseLost):
            await renew_lease(session, job_id, "a", 30.0, later)
        renewed = await renew_lease(session, job_id, "b", 30.0, later)
        assert renewed.lease_expires_at == later + timedelta(seconds=30)
    async with sessions.begin() as session:
        with pytest.raises(LeaseLost):
            await release(session, job_id, "a")
        released = await release(session, job_id, "b", requeue=True)
        assert released.status is JobStatus.QUEUED and released.lease_owner is None
