"""The async engine, its sessions, and the declarative base every table derives from.

SQLite is set up per connection: WAL so readers never block the writer, foreign keys (off by
default in SQLite), a busy timeout so a second writer waits instead of failing, and
`BEGIN IMMEDIATE` for every transaction. The last one matters: a deferred SQLite transaction
that reads and then writes cannot be upgraded while another connection writes, and fails with
SQLITE_BUSY without waiting; taking the write lock at BEGIN makes writers queue instead, which is
what makes "SQLite's single writer" a real serialization of claims and event appends.
Read-only sessions (`make_read_sessionmaker`) begin no transaction at all: in WAL mode each
SELECT reads a consistent snapshot without the write lock, so reads never queue behind
writers or each other (two SELECTs of one read session may see two snapshots). A SQLite
file cannot drop a connection the way a server can, so its pool skips the pre-ping round
trip that Postgres connections get on every checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

from service.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "retrospect_read_only"  # execution option of the read-only sessions' engine


class Base(DeclarativeBase):
    """The declarative base; constraint names follow `NAMING_CONVENTION` so migrations can
    refer to them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    """Whether `url` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite file, which SQLite will not do itself."""
    database = make_url(url).database
    if is_sqlite(url) and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling would BEGIN lazily (deferred); turn it off so
    # `_sqlite_begin` decides how a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if not connection.get_execution_options().get(READ_ONLY, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`, with the SQLite set-up above when it names SQLite."""
    ensure_sqlite_dir(url)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def engine_from_settings(settings: Settings) -> AsyncEngine:
    """The process's engine for `settings.resolved_database_url`."""
    url = settings.resolved_database_url
    return create_engine(url, pool_pre_ping=not is_sqlite(url))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit, so API handlers can answer from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only, never for a write: on SQLite they take no write lock (see the
    module docstring); on Postgres they run in autocommit, so a read costs no BEGIN and
    ROLLBACK round trips (each statement reads its own committed snapshot)."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)
