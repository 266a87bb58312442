"""Many streams of one job in Redis mode (a real uvicorn, SQLite and Postgres, a private
Redis): the process holds one Redis subscription and a bounded publish pool, however many SSE
streams and WebSockets are open, and every stream receives the job's events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as connect_ws

from service.bus.redis_bus import MAX_PUBLISH_CONNECTIONS
from service.config import Settings
from tests.integration.service.api_edges.conftest import PrivateRedis
from tests.integration.service.api_hostile.conftest import app_for, solve_body
from tests.integration.service.api_hostile.test_live_server import served

pytestmark = pytest.mark.redis
SSE_STREAMS = 200
WEBSOCKETS = 20
DEADLINE_S = 60.0


@pytest.fixture
def live(
    database_url: str, private_redis: PrivateRedis, prefix: str, tmp_path: Path
) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=private_redis.url,
        redis_prefix=prefix,
    )
    with served(app_for(settings)) as port:
        yield f"http://127.0.0.1:{port}"


def bus_connections(server: PrivateRedis, prefix: str) -> int:
    """The Redis connections the app's bus holds (they carry its client name)."""
    clients: list[dict[str, Any]] = server.client().client_list()
    return sum(1 for c in clients if c.get("name") == f"{prefix}bus")


async def sse_types(client: httpx.AsyncClient, job_id: str, opened: asyncio.Event) -> list[str]:
    types: list[str] = []
    async with client.stream("GET", f"/jobs/{job_id}/events") as answer:
        assert answer.status_code == 200
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                types.append(line[len("event: ") :])
                opened.set()
    return types


async def ws_types(base_url: str, job_id: str, opened: asyncio.Event) -> list[str]:
    types: list[str] = []
    async with connect_ws(f"ws{base_url[4:]}/jobs/{job_id}/ws", open_timeout=DEADLINE_S) as ws:
        async for frame in ws:
            types.append(json.loads(frame)["type"])
            opened.set()
    return types


async def scenario(base_url: str, server: PrivateRedis, prefix: str) -> None:
    limits = httpx.Limits(max_connections=SSE_STREAMS + 10)
    timeout = httpx.Timeout(DEADLINE_S)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        job_id = (await client.post("/solve", json=solve_body())).json()["id"]
        opened = [asyncio.Event() for _ in range(SSE_STREAMS + WEBSOCKETS)]
        streams = [asyncio.create_task(sse_types(client, job_id, e)) for e in opened[:SSE_STREAMS]]
        streams += [
            asyncio.create_task(ws_types(base_url, job_id, e)) for e in opened[SSE_STREAMS:]
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), DEADLINE_S)

        held = await asyncio.to_thread(bus_connections, server, prefix)
        assert 1 <= held <= MAX_PUBLISH_CONNECTIONS + 1, held

        cancelled = await client.post(f"/jobs/{job_id}/cancel")
        assert cancelled.status_code == 202
        results = await asyncio.wait_for(asyncio.gather(*streams), DEADLINE_S)
    assert results == [["job.queued", "job.cancelled"]] * (SSE_STREAMS + WEBSOCKETS)


def test_many_streams_share_one_subscription(
    live: str, private_redis: PrivateRedis, prefix: str
) -> None:
    asyncio.run(scenario(live, private_redis, prefix))
