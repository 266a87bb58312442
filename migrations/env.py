"""Alembic environment: the URL comes from the settings, the schema from `Base.metadata`.

`upgrade_to_head` passes its `Settings` in `config.attributes`; the `alembic` command line
falls back to `get_settings()`. Migrations run on the async engine through `run_sync`.
"""

from __future__ import annotations

import asyncio
import logging.config
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from service.config import Settings, get_settings

# the package imports every model, so Base.metadata holds all the tables
from service.store import Base, create_engine
from service.store.db import is_sqlite

config = context.config
if config.config_file_name is not None and "settings" not in config.attributes:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _settings() -> Settings:
    settings = config.attributes.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


def _configure(database_url: str, **kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite alters a table by copying it; batch mode writes migrations that way
        render_as_batch=is_sqlite(database_url),
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Write the SQL instead of running it (`alembic upgrade head --sql`)."""
    url = _settings().resolved_database_url
    _configure(url, url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection.engine.url.render_as_string(), connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Migrate over the async engine."""
    engine = create_engine(_settings().resolved_database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
