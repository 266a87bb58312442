"""A job's adapter versions: the newest is the job's current one and what a resume loads."""

from __future__ import annotations

from service.store import get_job, latest_adapter, record_adapter
from tests.integration.service.store.helpers import T0, Sessions, new_job, run


def test_the_newest_adapter_is_the_jobs_current_one(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions() as session:
            assert await latest_adapter(session, job_id) is None
        async with sessions.begin() as session:
            for version in (1, 2):
                await record_adapter(
                    session,
                    job_id,
                    version=version,
                    name=f"{job_id}-v{version}",
                    int_id=version,
                    path=f"/a/{version}",
                    sha256="0" * 64,
                    now=T0,
                )
        async with sessions() as session:
            assert (await get_job(session, job_id)).adapter_version == 2
            latest = await latest_adapter(session, job_id)
            assert latest is not None and latest.version == 2

    run(db_url, scenario)
