"""The migrations: each applies to an empty database, matches the models, and downgrades."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from service.config import Settings
from service.solver.request import SolveRequest
from service.store import Base, upgrade_to_head
from service.store.db import ensure_sqlite_dir
from service.store.migrate import alembic_config
from tests.integration.service.databases import fresh_postgres_database
from tests.integration.service.store.helpers import EXAMPLE, T0, TABLES, Sessions, run


def _schema_diff(connection: Connection) -> tuple[set[str], list[Any]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return tables, compare_metadata(context, Base.metadata)


def check_migration(settings: Settings) -> None:
    """Upgrade an empty database, compare it with the models, and downgrade it again."""
    url = settings.resolved_database_url
    upgrade_to_head(settings)

    async def diff(sessions: Sessions) -> tuple[set[str], list[Any]]:
        async with sessions() as session:
            connection = await session.connection()
            return await connection.run_sync(_schema_diff)

    tables, differences = run(url, diff)
    assert tables == TABLES
    assert differences == [], "models and migrations disagree; write a migration"
    command.downgrade(alembic_config(settings), "base")
    assert run(url, diff)[0] == set()


def test_migration_applies_to_an_empty_sqlite_file(tmp_path: Path) -> None:
    check_migration(Settings(data_dir=tmp_path / "fresh"))


@pytest.mark.postgres
def test_migration_applies_to_an_empty_postgres_database() -> None:
    with fresh_postgres_database() as url:
        check_migration(Settings(database_url=url))


def test_the_elapsed_seconds_migration_keeps_rows_and_downgrades(tmp_path: Path) -> None:
    """0002 adds `jobs.elapsed_seconds` to a table with rows (they start at 0) and drops it on
    downgrade, the rows kept."""
    settings = Settings(data_dir=tmp_path / "upgrade")
    config = alembic_config(settings)
    ensure_sqlite_dir(settings.resolved_database_url)
    command.upgrade(config, "0001")
    sync_url = settings.resolved_database_url.replace("sqlite+aiosqlite", "sqlite")
    engine = sa.create_engine(sync_url)
    row = {
        "id": "old",
        "status": "running",
        "strategy": "sdpo",
        "problem": "{}",
        "budget": "{}",
        "sdpo": "{}",
        "sampling": "{}",
        "metadata": "{}",
        "attempts_used": 3,
        "rounds": 1,
        "adapter_version": 0,
        "last_event_seq": 4,
        "cancel_requested": False,
        "created_at": T0,
    }
    try:
        with engine.begin() as connection:
            connection.execute(sa.table("jobs", *map(sa.column, row)).insert().values(**row))
        command.upgrade(config, "head")
        with engine.connect() as connection:
            seconds = connection.execute(sa.text("SELECT elapsed_seconds FROM jobs")).scalar_one()
        assert seconds == 0.0
        command.downgrade(config, "0001")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
        assert "elapsed_seconds" not in columns and "rounds" in columns
        with engine.connect() as connection:
            ids = connection.execute(sa.text("SELECT id FROM jobs")).scalars().all()
        assert ids == ["old"]
    finally:
        engine.dispose()


def _upgrade_an_attempt_to_0003(url: str, config: Any) -> None:
    """An attempt stored before 0003 gets `dropped` = "" and survives the downgrade."""
    command.upgrade(config, "0002")
    engine = sa.create_engine(url)
    job = {
        "id": "old", "status": "running", "strategy": "sdpo", "problem": "{}", "budget": "{}",
        "sdpo": "{}", "sampling": "{}", "metadata": "{}", "attempts_used": 1, "rounds": 1,
        "adapter_version": 0, "last_event_seq": 2, "cancel_requested": False, "created_at": T0,
    }  # fmt: skip
    attempt = {
        "job_id": "old", "index": 0, "round": 0, "response": "r", "code": "c",
        "verdict": "wrong_answer", "public_verdict": "wrong_answer", "confirmation": "not_run",
        "passed": 0, "total": 1, "feedback": "f", "tokens": 3, "truncated": False,
        "created_at": T0,
    }  # fmt: skip
    try:
        with engine.begin() as connection:
            connection.execute(sa.table("jobs", *map(sa.column, job)).insert().values(**job))
            connection.execute(
                sa.table("attempts", *map(sa.column, attempt)).insert().values(**attempt)
            )
        command.upgrade(config, "0003")
        with engine.connect() as connection:
            dropped = connection.execute(sa.text("SELECT dropped FROM attempts")).scalar_one()
        assert dropped == ""
        command.downgrade(config, "0002")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("attempts")}
        assert "dropped" not in columns and "code" in columns
        with engine.connect() as connection:
            codes = connection.execute(sa.text("SELECT code FROM attempts")).scalars().all()
        assert codes == ["c"]
    finally:
        engine.dispose()


def test_the_dropped_code_migration_keeps_rows_and_downgrades(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "dropped")
    ensure_sqlite_dir(settings.resolved_database_url)
    sync_url = settings.resolved_database_url.replace("sqlite+aiosqlite", "sqlite")
    _upgrade_an_attempt_to_0003(sync_url, alembic_config(settings))


REQUEST_PARTS = {
    "strategy": "best_of_k",
    "problem": json.loads(EXAMPLE.read_text()),
    "budget": {"max_attempts": 8, "attempts_per_round": 4},
    "sdpo": {"learning_rate": 0.001},
    "sampling": {"max_new_tokens": 128},
    "seed": None,
    "metadata": {"who": "migration test"},
}


def _job_row(job_id: str) -> dict[str, Any]:
    row = {
        "id": job_id, "status": "queued", "attempts_used": 0, "rounds": 0,
        "adapter_version": 0, "last_event_seq": 1, "cancel_requested": False,
        "elapsed_seconds": 0.0, "created_at": T0,
    }  # fmt: skip
    return row | REQUEST_PARTS


def _the_request_moves_into_one_column_and_back(settings: Settings) -> None:
    """0004 moves a job's seven request columns into `request` (a row SolveRequest reads)
    and back out on downgrade."""
    url = settings.resolved_database_url
    config = alembic_config(settings)
    ensure_sqlite_dir(url)
    command.upgrade(config, "0003")

    def jobs() -> sa.TableClause:
        return sa.table(
            "jobs",
            *(
                sa.column(name, sa.JSON() if isinstance(value, dict) else None)
                for name, value in _job_row("a").items()
            ),
        )

    async def insert(sessions: Sessions) -> None:
        async with sessions.begin() as session:
            for job_id in ("a", "b"):
                await session.execute(jobs().insert().values(_job_row(job_id)))

    async def read(sessions: Sessions, sql: str) -> list[Any]:
        async with sessions() as session:
            return list((await session.execute(sa.text(sql))).all())

    run(url, insert)
    command.upgrade(config, "0004")
    rows = run(url, lambda s: read(s, "SELECT id, request FROM jobs ORDER BY id"))
    for _, stored in rows:
        value = json.loads(stored) if isinstance(stored, str) else stored
        assert value == REQUEST_PARTS | {"seed": 0}
        request = SolveRequest.model_validate(value)
        assert request.strategy == "best_of_k" and request.sdpo.learning_rate == 0.001
    assert [job_id for job_id, _ in rows] == ["a", "b"]
    command.downgrade(config, "0003")
    back = run(url, lambda s: read(s, "SELECT strategy, sampling, seed, metadata FROM jobs"))
    for strategy, sampling, seed, metadata in back:
        assert strategy == "best_of_k" and seed == 0
        loaded = [json.loads(v) if isinstance(v, str) else v for v in (sampling, metadata)]
        assert loaded == [{"max_new_tokens": 128}, {"who": "migration test"}]


def test_the_request_migration_moves_rows_on_sqlite(tmp_path: Path) -> None:
    _the_request_moves_into_one_column_and_back(Settings(data_dir=tmp_path / "request"))


@pytest.mark.postgres
def test_the_request_migration_moves_rows_on_postgres() -> None:
    with fresh_postgres_database() as url:
        _the_request_moves_into_one_column_and_back(Settings(database_url=url))
