"""The app behind a real uvicorn on loopback (SQLite and Postgres): the bad-input table over
real HTTP parsing, a 500 that keeps the keep-alive connection, and access tokens that never
reach the server's logs."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.sync.client import connect as connect_ws

from service.config import Settings
from tests.integration.service.api_hostile.conftest import app_for, new_key, solve_body
from tests.integration.service.api_hostile.test_bad_inputs import TABLE, Bad

START_TIMEOUT_S = 20.0
# A conforming client cannot send a NUL in a header (h11 refuses); those rows run in-process.
SENDABLE = [
    bad
    for bad in TABLE
    if not any(isinstance(v, bytes) and b"\x00" in v for v in bad.headers.values())
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(app: FastAPI) -> Iterator[int]:
    """`app` under uvicorn on a free loopback port, in a thread; yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)


class Captured(logging.Handler):
    """Every formatted record of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def captured(*names: str) -> Iterator[Captured]:
    handler = Captured()
    for name in names:
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("live"), database_url=database_url)
    app = app_for(settings)

    async def boom() -> None:
        raise RuntimeError("a bug, on purpose")

    app.add_api_route("/test-only/boom", boom)
    with served(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        job_id = client.post("/solve", json=solve_body()).json()["id"]
        yield port, client, job_id


@pytest.mark.parametrize("bad", SENDABLE, ids=[bad.name for bad in SENDABLE])
def test_the_bad_input_table_over_real_http(bad: Bad, live: Any) -> None:
    _, client, job_id = live
    answer = client.request(
        bad.method,
        bad.path.replace("{job}", job_id),
        content=bad.content,
        params=bad.params,
        headers=bad.headers,
    )
    assert answer.status_code == bad.status, answer.text
    assert answer.json()["error"]["field"] == bad.field


def test_a_500_keeps_the_keep_alive_connection(live: Any) -> None:
    port, _, _ = live
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        with captured("service.api.errors") as logs:
            connection.request("GET", "/test-only/boom")
            failed = connection.getresponse()
            body = json.loads(failed.read())
        first_socket = connection.sock
        assert failed.status == 500 and body["error"]["code"] == "internal"
        assert "a bug" not in json.dumps(body)  # no internals in the answer...
        assert any("/test-only/boom" in line for line in logs.lines)  # ...they are logged
        assert not failed.will_close
        connection.request("GET", "/healthz")
        healthy = connection.getresponse()
        assert healthy.status == 200 and json.loads(healthy.read())["status"] == "ok"
        assert connection.sock is first_socket  # the same connection served both
    finally:
        connection.close()


def test_access_tokens_never_reach_the_logs(settings: Settings) -> None:
    key = new_key(settings, "logged")
    app = app_for(settings, bind_host="0.0.0.0")
    with served(app) as port, captured("uvicorn.access", "uvicorn.error") as logs:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            auth = {"Authorization": f"Bearer {key}"}
            job_id = client.post("/solve", json=solve_body(), headers=auth).json()["id"]
            assert client.post(f"/jobs/{job_id}/cancel", headers=auth).status_code == 202
            events = client.get(f"/jobs/{job_id}/events", params={"access_token": key})
            assert "job.cancelled" in events.text
            adapter = client.get(f"/jobs/{job_id}/adapter", params={"access_token": key})
            assert adapter.status_code == 404
            url = f"ws://127.0.0.1:{port}/jobs/{job_id}/ws?access_token={key}"
            with connect_ws(url, open_timeout=10) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "job.queued"
        time.sleep(0.2)  # let the server log the last lines
    text = "\n".join(logs.lines)
    assert "access_token=[redacted]" in text, text
    assert key not in text and key[4:] not in text, text
