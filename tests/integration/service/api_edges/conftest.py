"""Fixtures of the edge suite: a private `redis-server` this test may stop and start again,
and the real app under uvicorn on loopback (SQLite and Postgres, from the service conftest)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.integration.service.processes import free_port

START_TIMEOUT_S = 20.0


@dataclass
class PrivateRedis:
    """A `redis-server` of this test's own on a free loopback port, without persistence."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=5)

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen([*args, "--appendonly", "no"], stdout=handle)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop it: every connection to it breaks, as in an outage."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), log=tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """A channel prefix of the test's own (its connections' name is derived from it)."""
    return f"retrospect-test:{uuid.uuid4().hex[:12]}:"
