"""Fixtures of the service's integration tests: a migrated database on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.store import upgrade_to_head
from tests.integration.service.databases import fresh_postgres_database


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head, shared by one test module."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
        upgrade_to_head(Settings(database_url=url))
        yield url
        return
    with fresh_postgres_database() as url:
        upgrade_to_head(Settings(database_url=url))
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The service's settings on that database, with a data dir of the test's own."""
    return Settings(data_dir=tmp_path, database_url=database_url)
