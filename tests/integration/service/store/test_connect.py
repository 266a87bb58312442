"""`open_store`, the one way the service's processes open the database: the embedded SQLite
default migrates itself, a server database is left to its migrations, and the engine is
disposed of however the block ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.pool import QueuePool
from typer.testing import CliRunner

from service.cli import app as cli
from service.config import Settings
from service.store import Job, Store, create_job, find_api_key, get_job, open_store
from tests.integration.service.databases import fresh_postgres_database
from tests.integration.service.store.helpers import T0, TABLES, make_new_job


async def table_names(store: Store) -> set[str]:
    async with store.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    return names - {"alembic_version"}


def test_a_fresh_sqlite_file_is_migrated_and_the_engine_disposed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")  # the directory does not exist yet

    async def main() -> None:
        async with open_store(settings) as store:
            assert await table_names(store) == TABLES
            async with store.sessions.begin() as session:
                job_id = (await create_job(session, make_new_job(), now=T0)).id
            async with store.reads() as session:
                assert (await get_job(session, job_id)).id == job_id
            pool = store.engine.pool
            assert isinstance(pool, QueuePool) and pool.checkedin() >= 1
        assert pool.checkedin() == 0, "the pool's connections are closed"
        assert store.engine.pool is not pool, "dispose() replaces the pool"

    asyncio.run(main())
    assert (tmp_path / "fresh" / "retrospect.db").is_file()


def test_the_engine_is_disposed_when_the_block_raises(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="inside"):
            async with open_store(settings) as store:
                async with store.reads() as session:
                    await session.scalars(select(Job.id))
                pool = store.engine.pool
                assert isinstance(pool, QueuePool) and pool.checkedin() >= 1
                raise RuntimeError("inside")
        assert isinstance(pool, QueuePool) and pool.checkedin() == 0
        assert store.engine.pool is not pool

    asyncio.run(main())


def test_a_migrated_database_of_each_dialect_opens_for_writes_and_reads(
    settings: Settings,
) -> None:
    async def main() -> None:
        async with open_store(settings) as store:
            async with store.sessions.begin() as session:
                job_id = (await create_job(session, make_new_job(), now=T0)).id
            async with store.reads() as session:
                assert (await get_job(session, job_id)).id == job_id

    asyncio.run(main())


@pytest.mark.postgres
def test_a_postgres_database_is_not_migrated_by_opening_it() -> None:
    async def main(url: str) -> set[str]:
        async with open_store(Settings(database_url=url)) as store:
            return await table_names(store)

    with fresh_postgres_database() as url:
        assert asyncio.run(main(url)) == set(), "`retrospect migrate` migrates a server"


def test_keys_create_opens_a_fresh_store_and_its_key_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    monkeypatch.setattr("service.cli.server.get_settings", lambda: settings)
    done = CliRunner().invoke(cli, ["keys", "create", "ci"])
    assert done.exit_code == 0, done.output
    plaintext = done.output.strip()

    async def main() -> None:
        async with open_store(settings) as store, store.reads() as session:
            assert await find_api_key(session, plaintext) is not None

    asyncio.run(main())
