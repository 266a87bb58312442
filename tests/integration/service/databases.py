"""Databases for integration tests: a fresh, uniquely named Postgres database per use."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL = os.environ.get(
    "RETROSPECT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RETROSPECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def pg_execute(url: str, sql: str) -> None:
    """Run one statement on `url` outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty, uniquely named database on the test server, dropped afterwards."""
    name = f"retrospect_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(pg_execute(PG_URL, f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        pytest.skip(
            f"Postgres at {PG_URL} does not answer ({exc!r}); start it or set "
            "RETROSPECT_TEST_POSTGRES_URL"
        )
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(pg_execute(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
