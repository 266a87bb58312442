"""The edge limits of `retrospect api` (a real subprocess on loopback, small limits set through
`RETROSPECT_EDGE__*`): an oversized head, too many headers, a trickled head, a trickled body,
too many connections, an oversized WebSocket message, and a bounded graceful stop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_ws

from tests.integration.service.api_hostile.conftest import solve_body
from tests.integration.service.processes import Service, free_port, service_env, start, wait_ready

DEADLINE_S = 30.0
EDGE = {
    "RETROSPECT_EDGE__MAX_HEADER_BYTES": "8192",
    "RETROSPECT_EDGE__MAX_HEADERS": "40",
    "RETROSPECT_EDGE__HEADER_TIMEOUT_S": "1",
    "RETROSPECT_EDGE__BODY_TIMEOUT_S": "1",
    "RETROSPECT_EDGE__MAX_CONNECTIONS": "12",
    "RETROSPECT_EDGE__WS_MAX_MESSAGE_BYTES": "4096",
    "RETROSPECT_EDGE__GRACEFUL_STOP_S": "2",
    "RETROSPECT_EDGE__WS_PING_INTERVAL_S": "1",
    "RETROSPECT_EDGE__WS_PING_TIMEOUT_S": "1",
}
UPGRADE = (
    "GET /jobs/{job}/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
PING = bytes([0x89, 0x80 | 125, 0, 0, 0, 0]) + b"p" * 125  # masked with a zero mask


def api_process(tmp_path: Path) -> tuple[str, Service]:
    port = free_port()
    service = start(
        ["api", "--port", str(port)], service_env(tmp_path, **EDGE), tmp_path / "api.log"
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, service)
    return base, service


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    base, service = api_process(tmp_path_factory.mktemp("edge"))
    try:
        yield base, int(base.rsplit(":", 1)[1])
    finally:
        service.stop()


def raw(port: int, data: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    connection.sendall(data)
    return connection


def answer_of(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    connection.close()
    return received


def test_an_oversized_head_is_a_431(api: tuple[str, int]) -> None:
    base, port = api
    for params, headers in (({"q": "a" * 16384}, {}), ({}, {"X-Big": "a" * 16384})):
        answer = httpx.get(f"{base}/healthz", params=params, headers=headers)
        assert answer.status_code == 431
        assert answer.json()["error"]["code"] == "request_head_too_large"
    many = httpx.get(f"{base}/healthz", headers={f"X-Extra-{i}": "1" for i in range(50)})
    assert many.status_code == 431 and "at most 40" in many.json()["error"]["message"]
    # A head trickled in pieces is refused by uvicorn (400, closed) before it is whole; the
    # server may reset the connection while pieces are still on their way, so the 400 itself
    # may be lost, but the connection always ends.
    trickled = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    with contextlib.suppress(OSError):
        for _ in range(8):
            trickled.sendall(b"a" * 4096)
    answer = answer_of(trickled)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400 "), answer


def test_a_trickled_or_missing_head_is_cut_off(api: tuple[str, int]) -> None:
    _, port = api
    silent = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    trickling = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert answer_of(silent) == b""
    assert answer_of(trickling) == b""  # closed with no answer: nothing was asked


def test_a_trickled_body_is_a_408(api: tuple[str, int]) -> None:
    _, port = api
    head = b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer = answer_of(raw(port, head + b'Content-Length: 500\r\n\r\n{"problem"'))
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in answer and b'"field":"body"' in answer


def test_too_many_connections_get_a_503(api: tuple[str, int]) -> None:
    base, _ = api
    job_id = httpx.post(f"{base}/solve", json=solve_body()).json()["id"]
    with ExitStack() as streams:
        refused = None
        for _ in range(20):  # more than the limit of 12: each holds a connection open
            client = streams.enter_context(httpx.Client(base_url=base, timeout=DEADLINE_S))
            stream = streams.enter_context(client.stream("GET", f"/jobs/{job_id}/events"))
            if stream.status_code == 503:
                refused = stream
                break
            assert stream.status_code == 200
        assert refused is not None, "no connection was refused"
    deadline = time.monotonic() + DEADLINE_S
    while httpx.get(f"{base}/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{base}/healthz").status_code == 200  # the streams gone, room again


def test_an_oversized_websocket_message_closes_the_socket(api: tuple[str, int]) -> None:
    base, _ = api
    job_id = httpx.post(f"{base}/solve", json=solve_body()).json()["id"]
    with connect_ws(f"ws{base[4:]}/jobs/{job_id}/ws", open_timeout=DEADLINE_S) as ws:
        assert json.loads(ws.recv(DEADLINE_S))["type"] == "job.queued"
        ws.send(json.dumps({"type": "cancel", "padding": "x" * 8192}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(DEADLINE_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def flood_until_cut_off(connection: socket.socket, deadline_s: float) -> bool:
    """Send pings without reading until the server resets the connection (True) or the
    deadline passes (False)."""
    connection.setblocking(False)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            connection.send(PING * 64)
        except BlockingIOError:  # the server stopped reading: wait for its verdict
            time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def open_unread_websocket(base: str, port: int) -> tuple[str, socket.socket]:
    job_id = httpx.post(f"{base}/solve", json=solve_body()).json()["id"]
    connection = raw(port, UPGRADE.format(job=job_id).encode())
    assert connection.recv(65536).startswith(b"HTTP/1.1 101 ")
    return job_id, connection


def test_a_websocket_client_that_floods_pings_and_never_reads_is_cut_off(
    api: tuple[str, int],
) -> None:
    _, connection = open_unread_websocket(*api)
    with contextlib.closing(connection):
        cut_off = flood_until_cut_off(connection, DEADLINE_S)
    assert cut_off, "the server kept a client that never reads"


def test_a_websocket_that_ends_while_its_client_never_reads_is_cut_off(
    api: tuple[str, int],
) -> None:
    # The job ends (cancelled), so the app closes the socket with bytes still unsent: the
    # closing handshake can never finish, yet the connection must end.
    base, port = api
    job_id, connection = open_unread_websocket(base, port)
    with contextlib.closing(connection):
        flood_until_cut_off(connection, 0.5)  # fill the buffers both ways
        assert httpx.post(f"{base}/jobs/{job_id}/cancel").status_code == 202
        assert flood_until_cut_off(connection, DEADLINE_S), "the server kept a closed stream"


def test_a_graceful_stop_is_bounded(tmp_path: Path) -> None:
    base, service = api_process(tmp_path)
    port = int(base.rsplit(":", 1)[1])
    job_id = httpx.post(f"{base}/solve", json=solve_body()).json()["id"]
    with (
        httpx.Client(base_url=base, timeout=DEADLINE_S) as client,
        client.stream("GET", f"/jobs/{job_id}/events") as stream,
    ):
        assert stream.status_code == 200
        trickling = raw(port, b"POST /solve HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{")
        service.process.send_signal(signal.SIGTERM)
        # The open stream and the half-sent body do not hold the process beyond its bound.
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert service.process.wait(DEADLINE_S) in (0, -signal.SIGTERM), service.tail()
        assert "Application shutdown complete" in service.tail()
        trickling.close()
