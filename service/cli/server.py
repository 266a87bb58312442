"""Service commands: `serve`, `api`, `worker`, `migrate`, `keys create`, `keys list`,
`keys revoke`."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from datetime import datetime
from typing import Annotated

import typer

from service.config import Settings, get_settings
from service.store.connect import open_store
from service.store.migrate import upgrade_to_head

app = typer.Typer()
keys = typer.Typer(
    help="API keys: `create NAME` prints a new key once; `list` shows ids; `revoke ID`."
)
app.add_typer(keys, name="keys")

Host = Annotated[str, typer.Option(help="address to bind; non-loopback requires API keys")]
Port = Annotated[int, typer.Option(help="port to bind")]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command("serve")
def serve(host: Host = "127.0.0.1", port: Port = 8000, log_level: LogLevel = "info") -> None:
    """API and an in-process worker on the embedded defaults (SQLite, in-process bus)."""
    from service.api import serving
    from service.api.app import create_app
    from service.jobs.parts import build_parts

    _logging(log_level)
    settings = get_settings()
    parts = functools.partial(build_parts, settings)
    api = create_app(settings, bind_host=host, worker_parts=parts)
    serving.serve(api, settings, host, port, log_level=log_level.lower())


@app.command("api")
def api(host: Host = "127.0.0.1", port: Port = 8000, log_level: LogLevel = "info") -> None:
    """The HTTP API alone; workers run elsewhere (`retrospect worker`)."""
    from service.api import serving
    from service.api.app import create_app

    _logging(log_level)
    settings = get_settings()
    api = create_app(settings, bind_host=host)
    serving.serve(api, settings, host, port, log_level=log_level.lower())


@app.command("worker")
def worker(log_level: LogLevel = "info") -> None:
    """Claim and solve jobs (up to RETROSPECT_WORKER__MAX_JOBS at once) until SIGTERM or
    SIGINT, then hand every held job back.

    Exits with status 2 and the reason, before claiming any job, when the engine cannot
    start as configured (no CUDA where `cuda` was asked for, no vLLM, no memory for the model).
    """
    from service.engine.errors import EngineConfigError

    _logging(log_level)
    try:
        asyncio.run(_run_worker(get_settings()))
    except EngineConfigError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


async def _run_worker(settings: Settings) -> None:
    from service.bus import make_bus
    from service.jobs.parts import build_parts
    from service.jobs.worker import Worker

    async with open_store(settings) as store:
        bus = make_bus(settings)
        runner = Worker(settings, store.sessions, bus, functools.partial(build_parts, settings))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runner.stop)
        try:
            await runner.run()
        finally:
            await bus.close()


@app.command("migrate")
def migrate() -> None:
    """Bring the database to the newest schema (Alembic `upgrade head`)."""
    settings = get_settings()
    upgrade_to_head(settings)
    typer.echo(f"migrated {_redacted(settings.resolved_database_url)}")


@keys.command("create")
def create_key(name: Annotated[str, typer.Argument(help="who the key is for")]) -> None:
    """Create an API key and print it; only its hash is stored, so it is shown once."""
    if not 1 <= len(name) <= 200:
        typer.echo("error: NAME must have 1 to 200 characters", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(_create_key(get_settings(), name)))


async def _create_key(settings: Settings, name: str) -> str:
    from service.store.keys import create_api_key
    from service.store.status import utcnow

    async with open_store(settings) as store, store.sessions.begin() as session:
        _, plaintext = await create_api_key(session, name, now=utcnow())
    return plaintext


@keys.command("list")
def list_keys() -> None:
    """Every key: id, name, created, and `live` or when it was revoked (never the key)."""
    for line in asyncio.run(_list_keys(get_settings())):
        typer.echo(line)


async def _list_keys(settings: Settings) -> list[str]:
    from service.store.keys import list_api_keys

    async with open_store(settings) as store, store.reads() as session:
        rows = await list_api_keys(session)
    return [
        "\t".join((row.id, row.name, row.created_at.isoformat(), _revoked(row.revoked_at)))
        for row in rows
    ]


def _revoked(at: datetime | None) -> str:
    return "live" if at is None else f"revoked {at.isoformat()}"


@keys.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="the key's id (`keys list`)")]) -> None:
    """Revoke a key: its requests are refused (401) and its open event streams and WebSockets
    are closed within a few seconds (docs/http-api.md, "Keys")."""
    revoked = asyncio.run(_revoke_key(get_settings(), key_id))
    if revoked is None:
        typer.echo(f"error: no key with id {key_id!r} (see `retrospect keys list`)", err=True)
        raise typer.Exit(2)
    typer.echo(f"{key_id}\t{revoked}")


async def _revoke_key(settings: Settings, key_id: str) -> str | None:
    from service.store.keys import revoke_api_key
    from service.store.status import utcnow

    async with open_store(settings) as store, store.sessions.begin() as session:
        row = await revoke_api_key(session, key_id, now=utcnow())
        return None if row is None else _revoked(row.revoked_at)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
