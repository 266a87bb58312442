"""A database that cannot be reached, before anything is committed, is a 503 with
`Retry-After` in the documented error shape (a real uvicorn; a Postgres URL on a loopback port
where nothing listens), and a WebSocket is closed with 4503."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_ws

from service.config import Settings
from tests.integration.service.api_hostile.conftest import app_for, solve_body
from tests.integration.service.api_hostile.test_live_server import served
from tests.integration.service.processes import free_port

JOB = "00000000-0000-0000-0000-000000000000"


def test_every_route_answers_503_with_retry_after(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    with served(app_for(Settings(data_dir=tmp_path, database_url=url))) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answers = [
                client.post("/solve", json=solve_body()),
                client.get("/jobs"),
                client.get(f"/jobs/{JOB}"),
                client.post(f"/jobs/{JOB}/cancel"),
                client.get(f"/jobs/{JOB}/events"),
            ]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"].isdigit()
                assert answer.json()["error"]["code"] == "unavailable"
            assert client.get("/readyz").status_code == 503
        with (
            connect_ws(f"ws://127.0.0.1:{port}/jobs/{JOB}/ws", open_timeout=30) as ws,
            pytest.raises(ConnectionClosed) as closed,
        ):
            assert '"unavailable"' in str(ws.recv(30))
            ws.recv(30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4503
