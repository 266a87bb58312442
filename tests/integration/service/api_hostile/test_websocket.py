"""WebSocket under hostile frames and parameters, on SQLite and Postgres: every frame type
gets an answer and the connection stays usable; every refusal is accepted first, sends an
error frame, and closes with `4000 + status`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from service.config import Settings
from tests.integration.service.api_hostile.conftest import api, new_key, solve_body

BAD_FRAMES: list[tuple[str, Any, str]] = [
    ("binary", b"\x00\x01\xff", "message"),
    ("binary JSON", b'{"type": "cancel"}', "message"),
    ("not JSON", "cancel please", "message"),
    ("lone surrogate", '{"type": "\\ud800"}', "message"),
    ("NaN", '{"type": NaN}', "message"),
    ("NUL", '{"type": "cancel\\u0000"}', "type"),
    ("wrong type", '{"type": "pause"}', "type"),
    ("extra field", '{"type": "cancel", "now": true}', "now"),
    ("array", "[]", "message"),
    ("too deep", "[" * 300 + "]" * 300, "message"),
]


def send(ws: Any, frame: Any) -> None:
    if isinstance(frame, bytes):
        ws.send_bytes(frame)
    else:
        ws.send_text(frame)


def test_every_bad_frame_is_answered_and_a_cancel_still_works(settings: Settings) -> None:
    with api(settings) as client:
        job_id = client.post("/solve", json=solve_body()).json()["id"]
        with client.websocket_connect(f"/jobs/{job_id}/ws") as ws:
            assert ws.receive_json()["type"] == "job.queued"
            for name, frame, field in BAD_FRAMES:
                send(ws, frame)
                error = ws.receive_json()
                assert error["type"] == "error", name
                assert error["error"]["code"] == "invalid_message", (name, error)
                assert error["error"]["field"] == field, (name, error)
            ws.send_text('{"type": "cancel"}')
            assert ws.receive_json()["type"] == "job.cancelled"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert closed.value.code == 1000
        assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"


def refused(client: TestClient, url: str) -> tuple[dict[str, Any], int]:
    """The error frame and close code a refused WebSocket gets (after an accepted handshake)."""
    with client.websocket_connect(url) as ws:
        frame: dict[str, Any] = json.loads(ws.receive_text())
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return frame, closed.value.code


def test_refusals_are_close_codes_after_accept(settings: Settings) -> None:
    alice, bob = new_key(settings, "alice"), new_key(settings, "bob")
    with api(settings, bind_host="0.0.0.0") as client:
        as_alice = {"Authorization": f"Bearer {alice}"}
        job_id = client.post("/solve", json=solve_body(), headers=as_alice).json()["id"]
        cases = [
            (f"/jobs/{job_id}/ws", 4401, "Authorization"),
            (f"/jobs/{job_id}/ws?access_token=rsk_forged", 4401, "Authorization"),
            (f"/jobs/{job_id}/ws?access_token={bob}", 4404, None),
            (f"/jobs/no-such-job/ws?access_token={alice}", 4404, None),
            (f"/jobs/a%00b/ws?access_token={alice}", 4422, "job_id"),
            (f"/jobs/{'x' * 65}/ws?access_token={alice}", 4422, "job_id"),
            (f"/jobs/{job_id}/ws?access_token={alice}&after=-1", 4422, "after"),
            (f"/jobs/{job_id}/ws?access_token={alice}&after=2147483648", 4422, "after"),
            (f"/jobs/{job_id}/ws?access_token={alice}&after=%C2%B2", 4422, "after"),
            (f"/jobs/{job_id}/ws?access_token={alice}&after=5", 4422, "after"),
        ]
        for url, code, field in cases:
            frame, closed = refused(client, url)
            assert closed == code, (url, frame)
            assert frame["type"] == "error" and frame["error"]["field"] == field, (url, frame)
        with client.websocket_connect(f"/jobs/{job_id}/ws?access_token={alice}") as ws:
            assert ws.receive_json()["type"] == "job.queued"  # the right key still works
