"""The per-key limit of active jobs holds under concurrency, on SQLite and Postgres: 40
submits at once against a limit of 8 admit exactly 8, for each key on its own, round after
round; and a submit waits while another transaction holds its key's lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from service.api.app import create_app
from service.config import LimitSettings, Settings
from service.store.db import create_engine, make_sessionmaker
from service.store.jobs import count_active_jobs
from service.store.models import ApiKey
from service.store.quota import count_active_jobs_locked
from tests.integration.service.api_hostile.conftest import in_store, new_key, solve_body

SUBMITS = 40
LIMIT = 8
ROUNDS = 3
HELD_S = 1.0  # how long the lock holder keeps the lock (the submit must still be waiting)


def client_of(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def submit_rounds(settings: Settings, keys: list[str]) -> list[dict[str, Counter[int]]]:
    """`ROUNDS` bursts of `SUBMITS` concurrent submits per key through the real app, each
    after cancelling what the last one admitted; the statuses per key of each round."""
    app = create_app(settings, bind_host="0.0.0.0")
    rounds = []
    async with app.router.lifespan_context(app), client_of(app) as client:

        async def one(key: str) -> tuple[str, int, str | None]:
            auth = {"Authorization": f"Bearer {key}"}
            answer = await client.post("/solve", json=solve_body(), headers=auth)
            return key, answer.status_code, answer.json().get("id")

        for _ in range(ROUNDS):
            results = await asyncio.gather(*(one(key) for key in keys for _ in range(SUBMITS)))
            statuses: dict[str, Counter[int]] = {key: Counter() for key in keys}
            for key, status, _ in results:
                statuses[key][status] += 1
            rounds.append(statuses)
            for key, status, job_id in results:
                if status == 202:
                    auth = {"Authorization": f"Bearer {key}"}
                    await client.post(f"/jobs/{job_id}/cancel", headers=auth)
    return rounds


def test_forty_concurrent_submits_admit_exactly_the_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"limits": LimitSettings(max_active_jobs_per_key=LIMIT)})
    keys = [new_key(settings, "racer-a"), new_key(settings, "racer-b")]
    for statuses in asyncio.run(submit_rounds(limited, keys)):
        for key in keys:
            assert statuses[key] == Counter({202: LIMIT, 429: SUBMITS - LIMIT}), statuses

    async def active_counts(session: Any) -> list[int]:
        key_ids = (
            await session.scalars(select(ApiKey.id).where(ApiKey.name.like("racer-%")))
        ).all()
        return [await count_active_jobs(session, key_id) for key_id in key_ids]

    assert in_store(settings, active_counts) == [0, 0]  # the last round's were cancelled


def test_a_submit_waits_while_its_keys_lock_is_held(settings: Settings) -> None:
    key = new_key(settings, "waiter")

    async def main() -> int:
        app = create_app(settings, bind_host="0.0.0.0")
        engine = create_engine(settings.resolved_database_url)
        try:
            async with app.router.lifespan_context(app), client_of(app) as client:
                async with make_sessionmaker(engine)() as holder, holder.begin():
                    key_id = (
                        await holder.scalars(select(ApiKey.id).where(ApiKey.name == "waiter"))
                    ).one()
                    await count_active_jobs_locked(holder, key_id)
                    auth = {"Authorization": f"Bearer {key}"}
                    submit = asyncio.create_task(
                        client.post("/solve", json=solve_body(), headers=auth)
                    )
                    await asyncio.sleep(HELD_S)
                    assert not submit.done()  # it cannot count while the lock is held
                answer = await asyncio.wait_for(submit, 60)
                return answer.status_code
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == 202
