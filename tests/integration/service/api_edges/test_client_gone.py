"""Clients that go away mid-body (a declared length, and chunked) through a real uvicorn
(SQLite and Postgres): no 5xx in the metrics or the access log, no traceback, a counter."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from service.config import Settings
from tests.integration.service.api_hostile.conftest import app_for, solve_body
from tests.integration.service.api_hostile.test_live_server import captured, served

ABORTS = 15  # of each kind
DEADLINE_S = 30.0
HEAD = "POST /solve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
DECLARED = HEAD + 'Content-Length: 5000\r\n\r\n{"problem": {'
CHUNKED = HEAD + 'Transfer-Encoding: chunked\r\n\r\nd\r\n{"problem": {\r\n'


def abort(port: int, request: str) -> None:
    """Send part of a request and close, the way a client that crashed does."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())


def counter(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_a_client_that_leaves_mid_body_is_no_server_error(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    loggers = ("uvicorn.access", "uvicorn.error", "service.api.errors")
    with (
        captured(*loggers) as logs,
        served(app_for(settings)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE_S) as client,
    ):
        for _ in range(ABORTS):
            abort(port, DECLARED)
            abort(port, CHUNKED)
        name = "retrospect_http_client_disconnects_total"
        deadline = time.monotonic() + DEADLINE_S
        while counter(client, name) < 2 * ABORTS and time.monotonic() < deadline:
            time.sleep(0.1)
        assert counter(client, name) == 2 * ABORTS
        assert client.post("/solve", json=solve_body()).status_code == 202  # still serving
        metrics = client.get("/metrics").text
    requests = [line for line in metrics.splitlines() if "retrospect_http_requests_total{" in line]
    assert not [line for line in requests if 'status="5' in line], requests
    assert not [line for line in logs.lines if "unhandled" in line or '" 5' in line], logs.lines
