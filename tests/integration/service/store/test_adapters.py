"""A job's adapter versions: the newest is the job's current one and what a resume loads."""

from __future__ import annotations

from pathlib import Path

from service.store import get_job, latest_adapter
from service.store.adapters import served_weights
from tests.integration.service.store.helpers import Sessions, new_job, record_versions, run


def test_the_newest_adapter_is_the_jobs_current_one(db_url: str) -> None:
    async def scenario(sessions: Sessions) -> None:
        job_id = await new_job(sessions)
        async with sessions() as session:
            assert await latest_adapter(session, job_id) is None
        async with sessions.begin() as session:
            await record_versions(session, job_id, (1, 2))
        async with sessions() as session:
            assert (await get_job(session, job_id)).adapter_version == 2
            latest = await latest_adapter(session, job_id)
            assert latest is not None and latest.version == 2
            assert Path(latest.path) == Path("/a/2")
            assert served_weights(latest, Path("/nonexistent")) is None  # nothing on disk

    run(db_url, scenario)
