"""`retrospect keys list` and `keys revoke` (the real commands, in-process) against a real
uvicorn (SQLite and Postgres, keys required): a revoked key is refused everywhere, its open
SSE stream ends with an `error` event, its open WebSocket is closed with 4401 and can no longer
cancel; another key's streams go on."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_ws

from service.cli import app as retrospect
from service.config import Settings
from service.store.jobs import get_job
from service.store.status import JobStatus
from tests.integration.service.api_hostile.conftest import app_for, in_store, new_key, solve_body
from tests.integration.service.api_hostile.test_live_server import served

DEADLINE_S = 30.0


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """`retrospect ARGS` (the real command, in-process) on the settings' database."""
    monkeypatch.setattr("service.cli.server.get_settings", lambda: settings)
    return CliRunner().invoke(retrospect, list(args))


def listed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """What `keys list` shows, by key name."""
    done = cli(settings, monkeypatch, "keys", "list")
    assert done.exit_code == 0, done.output
    rows = [line.split("\t") for line in done.output.splitlines()]
    return {row[1]: row for row in rows}


class SseReader:
    """One SSE stream, read on a thread: each `event:` with its data."""

    def __init__(self, base_url: str, job_id: str, key: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.opened = threading.Event()
        args = (base_url, job_id, key)
        self._thread = threading.Thread(target=self._read, args=args, daemon=True)
        self._thread.start()

    def _read(self, base_url: str, job_id: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        timeout = httpx.Timeout(10.0, read=DEADLINE_S)
        url = f"{base_url}/jobs/{job_id}/events"
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as answer:
            kind = ""
            for line in answer.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line[len("data: ") :])))
                    self.opened.set()

    def join(self) -> list[tuple[str, dict[str, Any]]]:
        self._thread.join(DEADLINE_S)
        assert not self._thread.is_alive(), f"the stream did not end: {self.events}"
        return self.events


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, require_api_keys=True)
    with served(app_for(settings)) as port:
        yield settings, f"http://127.0.0.1:{port}"


def submit(base_url: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    answer = httpx.post(f"{base_url}/solve", json=solve_body(), headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


def status_of(settings: Settings, job_id: str) -> JobStatus:
    async def work(session: Any) -> JobStatus:
        return (await get_job(session, job_id)).status

    return in_store(settings, work)


def closed_code(ws: Any) -> int:
    """Read until the server closes; its close code (error frames before it are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(DEADLINE_S)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_a_revoked_key_is_cut_off_everywhere(
    live: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, base = live
    doomed, other = new_key(settings, "doomed"), new_key(settings, "other")
    streamed, socketed, others = submit(base, doomed), submit(base, doomed), submit(base, other)
    doomed_sse, other_sse = SseReader(base, streamed, doomed), SseReader(base, others, other)
    assert doomed_sse.opened.wait(DEADLINE_S) and other_sse.opened.wait(DEADLINE_S)
    ws_url = f"ws{base[4:]}/jobs/{socketed}/ws?access_token={doomed}"
    with connect_ws(ws_url, open_timeout=DEADLINE_S) as ws:
        assert json.loads(ws.recv(DEADLINE_S))["type"] == "job.queued"

        doomed_id = listed(settings, monkeypatch)["doomed"][0]
        revoked = cli(settings, monkeypatch, "keys", "revoke", doomed_id)
        assert revoked.exit_code == 0 and "revoked" in revoked.output, revoked.output
        # Too late: the key is revoked. The server may have closed the socket already (its
        # stream re-checked the key first); either way the job is not cancelled.
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps({"type": "cancel"}))
        assert closed_code(ws) == 4401

    kinds = [kind for kind, _ in doomed_sse.join()]
    assert kinds == ["job.queued", "error"]
    assert doomed_sse.events[-1][1]["error"]["code"] == "unauthorized"
    assert status_of(settings, socketed) is JobStatus.QUEUED  # the WebSocket did not cancel
    refused = httpx.get(f"{base}/jobs", headers={"Authorization": f"Bearer {doomed}"})
    assert refused.status_code == 401

    # The other key's stream was left open: it hears its own cancel.
    headers = {"Authorization": f"Bearer {other}"}
    assert httpx.post(f"{base}/jobs/{others}/cancel", headers=headers).status_code == 202
    assert [kind for kind, _ in other_sse.join()] == ["job.queued", "job.cancelled"]
    keys = listed(settings, monkeypatch)
    assert keys["doomed"][3].startswith("revoked ") and keys["other"][3] == "live"
    again = cli(settings, monkeypatch, "keys", "revoke", doomed_id)
    assert again.exit_code == 0 and keys["doomed"][3] in again.output  # the first revocation


def test_revoking_an_unknown_key_fails_clearly(
    live: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = live
    done = cli(settings, monkeypatch, "keys", "revoke", "no-such-key")
    assert done.exit_code == 2
    assert "no key with id 'no-such-key'" in done.output
