"""The store's databases: SQLite (a temp file) and Postgres (a throwaway database).

Postgres: one uniquely named database per session, migrated once, truncated after each test.
Truncation rather than a rolled-back transaction per test because the concurrency tests need
many connections that commit. SQLite: a copy of one migrated template file per test.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.store import upgrade_to_head
from tests.integration.service.databases import fresh_postgres_database, pg_execute
from tests.integration.service.store.helpers import TABLES


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade_to_head(Settings(database_url=url))
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    upgrade_to_head(Settings(data_dir=data_dir))
    return data_dir / "retrospect.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each dialect."""
    if request.param == "sqlite":
        path = tmp_path / "retrospect.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    asyncio.run(pg_execute(url, f"TRUNCATE {', '.join(sorted(TABLES))} CASCADE"))
