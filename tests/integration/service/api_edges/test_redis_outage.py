"""A Redis outage during submits, cancels and streams (SQLite and Postgres, Redis mode, a real
uvicorn): every answer is a 2xx or a 503, never a 5xx of another kind, and agrees with the
database; open SSE streams and WebSockets fall back to re-reading the database and still end
with their job's terminal event; the bus reconnects once Redis is back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as connect_ws

from service.config import Settings
from service.store.db import create_engine, make_sessionmaker
from service.store.jobs import get_job
from service.store.status import JobStatus
from tests.integration.service.api_edges.conftest import PrivateRedis
from tests.integration.service.api_hostile.conftest import app_for, solve_body
from tests.integration.service.api_hostile.test_live_server import served

pytestmark = pytest.mark.redis
DEADLINE_S = 30.0
SUBMITS_DURING_OUTAGE = 5


def statuses(database_url: str, job_ids: list[str]) -> dict[str, JobStatus]:
    """Each job's status as the database has it."""

    async def main() -> dict[str, JobStatus]:
        engine = create_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return {job_id: (await get_job(session, job_id)).status for job_id in job_ids}
        finally:
            await engine.dispose()

    return asyncio.run(main())


class SseReader:
    """One SSE stream read on a thread until its terminal event; `types` grows as it reads."""

    def __init__(self, base_url: str, job_id: str) -> None:
        self.types: list[str] = []
        self.status: int | None = None
        self._thread = threading.Thread(target=self._read, args=(base_url, job_id), daemon=True)
        self._thread.start()

    def _read(self, base_url: str, job_id: str) -> None:
        timeout = httpx.Timeout(10.0, read=DEADLINE_S)
        with httpx.stream("GET", f"{base_url}/jobs/{job_id}/events", timeout=timeout) as answer:
            self.status = answer.status_code
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    self.types.append(line[len("event: ") :])

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(self.types) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.types) >= count, self.types

    def join(self) -> list[str]:
        self._thread.join(DEADLINE_S)
        assert not self._thread.is_alive(), f"the stream did not end: {self.types}"
        return self.types


@pytest.fixture
def live(
    database_url: str, private_redis: PrivateRedis, prefix: str, tmp_path: Any
) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=private_redis.url,
        redis_prefix=prefix,
    )
    with served(app_for(settings)) as port:
        yield f"http://127.0.0.1:{port}"


def wait_ready(client: httpx.Client, status: int) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while client.get("/readyz").status_code != status and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/readyz").status_code == status


def test_an_outage_gives_no_5xx_and_no_answer_the_database_contradicts(
    live: str, private_redis: PrivateRedis, database_url: str
) -> None:
    with httpx.Client(base_url=live, timeout=DEADLINE_S) as client:
        wait_ready(client, 200)
        before = client.post("/solve", json=solve_body())
        assert before.status_code == 202, before.text
        opened_before = SseReader(live, before.json()["id"])
        opened_before.wait_for(1)  # job.queued: the stream is open and subscribed

        private_redis.stop()
        submits = [client.post("/solve", json=solve_body()) for _ in range(SUBMITS_DURING_OUTAGE)]
        assert [s.status_code for s in submits] == [202] * SUBMITS_DURING_OUTAGE
        assert client.get("/readyz").status_code == 503
        submitted = [s.json()["id"] for s in submits]

        opened_during = SseReader(live, submitted[0])
        opened_during.wait_for(1)
        cancels = [
            client.post(f"/jobs/{job_id}/cancel") for job_id in (before.json()["id"], submitted[0])
        ]
        assert [c.status_code for c in cancels] == [202, 202], [c.text for c in cancels]
        assert [c.json()["status"] for c in cancels] == ["cancelled", "cancelled"]
        with connect_ws(f"ws{live[4:]}/jobs/{submitted[1]}/ws", open_timeout=DEADLINE_S) as ws:
            assert json.loads(ws.recv(DEADLINE_S))["type"] == "job.queued"
            ws.send(json.dumps({"type": "cancel"}))
            assert json.loads(ws.recv(DEADLINE_S))["type"] == "job.cancelled"

        # The streams heard of the cancels by re-reading the database, with no bus.
        assert opened_before.join() == ["job.queued", "job.cancelled"]
        assert opened_during.join() == ["job.queued", "job.cancelled"]
        assert opened_before.status == opened_during.status == 200
        expected = {before.json()["id"]: JobStatus.CANCELLED, submitted[0]: JobStatus.CANCELLED}
        expected[submitted[1]] = JobStatus.CANCELLED
        expected.update(dict.fromkeys(submitted[2:], JobStatus.QUEUED))
        assert statuses(database_url, list(expected)) == expected

        private_redis.start()
        wait_ready(client, 200)  # the bus subscribed again by itself
        after = client.post("/solve", json=solve_body())
        assert after.status_code == 202
        streamed = SseReader(live, after.json()["id"])
        streamed.wait_for(1)
        assert client.post(f"/jobs/{after.json()['id']}/cancel").status_code == 202
        assert streamed.join() == ["job.queued", "job.cancelled"]
