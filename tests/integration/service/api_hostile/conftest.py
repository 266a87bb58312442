"""Fixtures of the hostile-client suite: the real app on a real SQLite file and on a fresh
Postgres database (one per module), driven in-process or over loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.store import create_api_key
from service.store.db import create_engine, make_sessionmaker
from service.store.status import utcnow

T = TypeVar("T")
EXAMPLE = json.loads((Path(__file__).parents[4] / "examples" / "sum_evens.json").read_text())


def solve_body(**changes: Any) -> dict[str, Any]:
    """A valid `POST /solve` body, with `changes` on top."""
    request: dict[str, Any] = {"problem": EXAMPLE, "budget": {"max_attempts": 8}}
    request.update(changes)
    return request


@contextmanager
def api(settings: Settings, **kwargs: Any) -> Iterator[TestClient]:
    """A client of a fresh app on `settings`."""
    with TestClient(create_app(settings, **kwargs), raise_server_exceptions=False) as client:
        yield client


def in_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one committed transaction on the settings' database."""

    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def new_key(settings: Settings, name: str) -> str:
    """A fresh API key's plaintext."""

    async def work(session: Any) -> str:
        _, plaintext = await create_api_key(session, name, now=utcnow())
        return plaintext

    return in_store(settings, work)


def app_for(settings: Settings, **kwargs: Any) -> FastAPI:
    """A fresh app (for tests that drive it with their own client or server)."""
    return create_app(settings, **kwargs)
