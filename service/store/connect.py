"""Opening the store, the one way every entry point does it (`retrospect serve`, `api`,
`worker` and `keys create`): migrate the embedded SQLite default, build the engine and its
sessions, and dispose of the engine on the way out, however the block ends.

Only SQLite migrates itself; a server database (Postgres) is migrated by `retrospect migrate`
or the deployment, never by a process that merely uses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.config import Settings
from service.store.db import (
    engine_from_settings,
    is_sqlite,
    make_read_sessionmaker,
    make_sessionmaker,
)
from service.store.migrate import upgrade_to_head_async


@dataclass(frozen=True)
class Store:
    """An open store: the engine, sessions for writes, and read-only sessions (`db.py`)."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The store of `settings.resolved_database_url`, open for the block and disposed after."""
    if is_sqlite(settings.resolved_database_url):
        await upgrade_to_head_async(settings)  # the embedded default migrates itself
    engine = engine_from_settings(settings)
    try:
        yield Store(engine, make_sessionmaker(engine), make_read_sessionmaker(engine))
    finally:
        await engine.dispose()
