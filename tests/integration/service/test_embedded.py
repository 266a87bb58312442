"""The embedded default end to end: `retrospect serve` (SQLite, in-process bus and worker,
the default model, the Docker sandbox) driven over real HTTP, SSE and WebSocket."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.service.processes import (
    EXAMPLE,
    REPO,
    SOLVING_SEED,
    Service,
    assert_contiguous,
    embedded_server,
    free_port,
    service_env,
    solve_body,
    sse_events,
    start,
    wait_ready,
)

pytestmark = [pytest.mark.model, pytest.mark.docker]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    with embedded_server(tmp_path_factory.mktemp("embedded")) as running:
        yield running


def ws_events(url: str, out: list[dict[str, Any]]) -> None:
    """Collect every WebSocket message until the server closes the socket."""
    with connect(url, open_timeout=30) as socket:
        try:
            while True:
                out.append(json.loads(socket.recv(timeout=600)))
        except ConnectionClosed:
            return


def test_submit_follow_solves_the_example(server: tuple[str, Service]) -> None:
    base, service = server
    command = [sys.executable, "-m", "service.cli", "submit", str(EXAMPLE), "--url", base]
    options = ["--follow", "--max-attempts", "8", "--attempts-per-round", "2"]
    options += ["--max-new-tokens", "64", "--seed", str(SOLVING_SEED)]
    done = subprocess.run(
        [*command, *options], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr + service.tail()
    assert "solved by attempt" in done.stdout and "def sum_evens" in done.stdout
    job_id = re.search(r"job ([0-9a-f-]{36})", done.stdout)
    assert job_id is not None
    with httpx.Client(base_url=base, timeout=30) as client:
        job = client.get(f"/jobs/{job_id.group(1)}").json()
        assert job["status"] == "succeeded" and job["solution"]
        attempts = client.get(f"/jobs/{job['id']}/attempts").json()["data"]
        assert [a["index"] for a in attempts] == list(range(job["attempts_used"]))
        assert attempts[job["discovery_index"]]["verdict"] == "accepted"
        adapter = client.get(f"/jobs/{job['id']}/adapter")
        if job["adapter_version"] > 0:
            assert adapter.status_code == 200 and len(adapter.content) > 1000
        else:
            assert adapter.status_code == 404


def test_sse_and_websocket_deliver_every_event_live(server: tuple[str, Service]) -> None:
    base, service = server
    with httpx.Client(base_url=base, timeout=30) as client:
        job_id = client.post("/solve", json=solve_body(max_attempts=4)).json()["id"]
        over_ws: list[dict[str, Any]] = []
        ws_url = base.replace("http://", "ws://") + f"/jobs/{job_id}/ws"
        listener = threading.Thread(target=ws_events, args=(ws_url, over_ws))
        listener.start()
        first = sse_events(client, job_id, stop_after=3)  # then hang up, as a flaky client
        rest = sse_events(client, job_id, after=first[-1]["seq"])
        listener.join(600)
        replay = sse_events(client, job_id)
    assert not listener.is_alive()
    live = first + rest
    assert_contiguous(live)
    assert [e["type"] for e in live][:2] == ["job.queued", "job.started"]
    assert live == over_ws == replay, service.tail()


def test_cancel_mid_round_over_the_websocket(server: tuple[str, Service]) -> None:
    base, service = server
    body = solve_body(max_attempts=64, attempts_per_round=8)
    body["sampling"] = {"max_new_tokens": 512}
    with httpx.Client(base_url=base, timeout=30) as client:
        job_id = client.post("/solve", json=body).json()["id"]
        seen: list[dict[str, Any]] = []
        ws_url = base.replace("http://", "ws://") + f"/jobs/{job_id}/ws"
        with connect(ws_url, open_timeout=30) as socket:
            while not seen or seen[-1]["type"] != "round.started":
                seen.append(json.loads(socket.recv(timeout=300)))
            socket.send(json.dumps({"type": "cancel"}))
            try:
                while True:
                    seen.append(json.loads(socket.recv(timeout=300)))
            except ConnectionClosed:
                pass
        job = client.get(f"/jobs/{job_id}").json()
    assert seen[-1]["type"] == "job.cancelled", service.tail()
    assert job["status"] == "cancelled" and job["attempts_used"] < 64


def test_a_killed_server_resumes_its_job_after_a_restart(tmp_path: Path) -> None:
    """SIGKILL mid-job, start again on the same data dir: the job ends, nothing counted twice."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(tmp_path, RETROSPECT_WORKER__LEASE_S="4")
    first = start(["serve", "--port", str(port)], env, tmp_path / "first.log")
    try:
        wait_ready(base, first)
        with httpx.Client(base_url=base, timeout=30) as client:
            job_id = client.post("/solve", json=solve_body()).json()["id"]
            before = sse_events(client, job_id, stop_at="adapter.published")
    finally:
        first.kill()
    second = start(["serve", "--port", str(port)], env, tmp_path / "second.log")
    try:
        wait_ready(base, second)
        with httpx.Client(base_url=base, timeout=30) as client:
            after = sse_events(client, job_id, after=before[-1]["seq"])
            attempts = client.get(f"/jobs/{job_id}/attempts").json()["data"]
            job = client.get(f"/jobs/{job_id}").json()
    finally:
        second.stop()
    assert before[-1]["type"] == "adapter.published", before  # killed mid-job, not after it
    events = before + after
    assert_contiguous(events)
    started = [e for e in events if e["type"] == "job.started"]
    assert [e["resumed"] for e in started] == [False, True], second.tail()
    assert [a["index"] for a in attempts] == list(range(job["attempts_used"]))
