"""The per-key limit of active jobs holds under concurrency, on SQLite and Postgres: 40
submits at once against a limit of 8 admit exactly 8, for each key on its own."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from service.api.app import create_app
from service.config import LimitSettings, Settings
from service.store.lifecycle import count_active_jobs
from service.store.models import ApiKey
from tests.integration.service.api_hostile.conftest import in_store, new_key, solve_body

SUBMITS = 40
LIMIT = 8


async def submit_all(settings: Settings, keys: list[str]) -> dict[str, Counter[int]]:
    """`SUBMITS` concurrent submits per key through the real app; statuses per key."""
    app = create_app(settings, bind_host="0.0.0.0")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client,
    ):

        async def one(key: str) -> tuple[str, int]:
            answer = await client.post(
                "/solve", json=solve_body(), headers={"Authorization": f"Bearer {key}"}
            )
            return key, answer.status_code

        results = await asyncio.gather(*(one(key) for key in keys for _ in range(SUBMITS)))
    statuses: dict[str, Counter[int]] = {key: Counter() for key in keys}
    for key, status in results:
        statuses[key][status] += 1
    return statuses


def test_forty_concurrent_submits_admit_exactly_the_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"limits": LimitSettings(max_active_jobs_per_key=LIMIT)})
    keys = [new_key(settings, "racer-a"), new_key(settings, "racer-b")]
    statuses = asyncio.run(submit_all(limited, keys))
    for key in keys:
        assert statuses[key] == Counter({202: LIMIT, 429: SUBMITS - LIMIT}), statuses

    async def active_counts(session: Any) -> list[int]:
        key_ids = (
            await session.scalars(select(ApiKey.id).where(ApiKey.name.like("racer-%")))
        ).all()
        return [await count_active_jobs(session, key_id) for key_id in key_ids]

    assert in_store(settings, active_counts) == [LIMIT, LIMIT]
