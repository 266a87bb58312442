"""How an API process serves, on its own: a stop signal tells the in-process worker to hand
its jobs back before connections drain, and the connection limit stays below the open-files
limit (a fake worker; no server is started)."""

from __future__ import annotations

import asyncio
import resource
import signal
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from service.api.serving import (
    RESERVED_FILES,
    Deadline,
    EdgeServer,
    connection_limit,
    server_config,
)
from service.config import EdgeSettings, Settings


@dataclass
class FakeWorker:
    stops: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.stops.append("stop")


def test_a_stop_signal_stops_the_worker_first() -> None:
    app = FastAPI()
    worker = FakeWorker()
    app.state.retrospect = SimpleNamespace(worker=worker)
    server = EdgeServer(server_config(app, Settings(), "127.0.0.1", 0), app)
    server.handle_exit(signal.SIGTERM, None)
    assert worker.stops == ["stop"] and server.should_exit


def test_a_stop_signal_without_a_worker_just_stops() -> None:
    app = FastAPI()
    app.state.retrospect = SimpleNamespace(worker=None)
    server = EdgeServer(server_config(app, Settings(), "127.0.0.1", 0), app)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit


def test_the_connection_limit_stays_below_the_open_files_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert connection_limit(EdgeSettings(max_connections=5000)) == 1024 - RESERVED_FILES
    assert connection_limit(EdgeSettings(max_connections=100)) == 100


def test_the_config_carries_the_edge_settings() -> None:
    edge = EdgeSettings(keep_alive_s=7, graceful_stop_s=3, ws_max_message_bytes=2048)
    config = server_config(FastAPI(), Settings(edge=edge), "127.0.0.1", 0)
    assert (config.timeout_keep_alive, config.timeout_graceful_shutdown) == (7, 3)
    assert config.ws_max_size == 2048
    assert config.h11_max_incomplete_event_size == edge.max_header_bytes


def test_a_deadline_fires_once_unless_stopped_and_rearms_only_when_idle() -> None:
    # Loop timers fire in the order of their due times, so each sleep below ends after the
    # deadline's due time whatever the machine's load.
    fired: list[str] = []

    async def scenario() -> None:
        deadline = Deadline(0.05, lambda: fired.append("fired"))
        deadline.start()
        deadline.stop()
        await asyncio.sleep(0.1)
        assert fired == []  # stopped in time
        deadline.start()
        await asyncio.sleep(0.02)
        deadline.start()  # already armed: no second timer
        await asyncio.sleep(0.1)
        assert fired == ["fired"]
        deadline.start()  # fired, so it may be armed again
        await asyncio.sleep(0.1)
        assert fired == ["fired", "fired"]

    asyncio.run(scenario())
