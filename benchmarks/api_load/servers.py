"""The processes under load: `retrospect api` on a database, or the baseline app; loopback
only, each on a free port, stopped (and its database dropped) when the block ends."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

HOST = "127.0.0.1"
POSTGRES_URL = os.environ.get(
    "RETROSPECT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
READY_TIMEOUT_S = 180.0  # a loaded 2-core machine starts an API process in over a minute
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A process serving HTTP on loopback."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    redis_url: str | None = None
    redis_client_name: str | None = None  # the name the server's bus gives its connections

    def redis_connections(self) -> int | None:
        """The Redis connections the server's bus holds now (`CLIENT LIST`); None without
        Redis."""
        if self.redis_url is None:
            return None
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            clients = client.client_list()
        finally:
            client.close()
        return sum(1 for c in clients if c.get("name") == self.redis_client_name)

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far, user and system (Linux: /proc stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        """The server's resident memory now (Linux: `VmRSS` in /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            if httpx.get(server.base_url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} was not ready in {READY_TIMEOUT_S} s")


@contextmanager
def _process(
    name: str, args: list[str], env: dict[str, str], log: Path, ready: str
) -> Iterator[Server]:
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, *[arg.replace("{port}", str(port)) for arg in args]],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://{HOST}:{port}", process)
    try:
        _wait_ready(server, ready)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _service_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROSPECT_")}
    env.update(
        RETROSPECT_DATA_DIR=str(data_dir),
        RETROSPECT_DATABASE_URL=database_url,
        RETROSPECT_LIMITS__MAX_ACTIVE_JOBS_PER_KEY="100000",
        PYTHONUNBUFFERED="1",
        **settings,
    )
    return env


async def _pg(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    """A fresh database of `kind` (`sqlite` or `postgres`), migrated; dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'load.db'}"
        _migrate(data_dir, url)
        yield url
        return
    name = f"retrospect_load_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(data_dir, url)
        yield url
    finally:
        asyncio.run(_pg(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _migrate(data_dir: Path, url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate"],
        cwd=REPO,
        env=_service_env(data_dir, url),
        check=True,
        capture_output=True,
    )


@contextmanager
def retrospect_api(
    kind: str, *, max_connections: int, redis_url: str | None = None
) -> Iterator[Server]:
    """`retrospect api` on loopback over a fresh database of `kind`; its bus on `redis_url`
    (under a prefix of its own) where given, else in-process."""
    settings = {"RETROSPECT_EDGE__MAX_CONNECTIONS": str(max_connections)}
    prefix = f"retrospect-load-{uuid.uuid4().hex[:10]}:"
    if redis_url is not None:
        settings.update(RETROSPECT_REDIS_URL=redis_url, RETROSPECT_REDIS_PREFIX=prefix)
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp, database(kind, Path(tmp)) as url:
        args = ["-m", "service.cli", "api", "--host", HOST, "--port", "{port}"]
        log = Path(tmp) / "api.log"
        env = _service_env(Path(tmp), url, **settings)
        mode = "Redis" if redis_url else "in-process bus"
        with _process(f"retrospect api ({kind}, {mode})", args, env, log, "/readyz") as server:
            if redis_url is not None:
                server.redis_url, server.redis_client_name = redis_url, f"{prefix}bus"
            yield server


@contextmanager
def baseline_app() -> Iterator[Server]:
    """The minimal ASGI app on loopback."""
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        args = ["-m", "benchmarks.api_load.baseline", "{port}"]
        with _process(
            "baseline", args, dict(os.environ), Path(tmp) / "baseline.log", "/jobs/x"
        ) as server:
            yield server
