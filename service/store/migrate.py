"""Run the Alembic migrations from code: the embedded default migrates itself at start-up.

The scripts live in `migrations/` at the repository root (next to `alembic.ini`, which the
`alembic` command line reads); this module builds the same configuration in code so it needs
no working directory. `migrations/env.py` drives an async engine with `asyncio.run`, which
cannot nest in a running event loop, so the async entry point runs it in a worker thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from service.config import Settings
from service.store.db import ensure_sqlite_dir

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for `settings`' database; env.py reads the settings from it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Migrate the database to the newest revision; call it where no event loop runs."""
    ensure_sqlite_dir(settings.resolved_database_url)
    command.upgrade(alembic_config(settings), "head")


async def upgrade_to_head_async(settings: Settings) -> None:
    """`upgrade_to_head` from inside a running event loop (e.g. the app's lifespan)."""
    await asyncio.to_thread(upgrade_to_head, settings)
