"""`PacedWebSocket` on its own, in an in-process uvicorn on loopback: an app that returns
while its client has not read what it was sent must not leave the connection open (uvicorn
closes the transport gracefully, which waits for a drain that never comes)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from service.api.serving import PacedWebSocket
from tests.integration.service.processes import free_port

UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
DEADLINE_S = 30.0


async def send_until_stalled(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, send until a send cannot finish (the client reads nothing), then return."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        try:
            await asyncio.wait_for(send({"type": "websocket.send", "bytes": b"x" * 65536}), 0.5)
        except TimeoutError:
            return


@pytest.fixture
def server() -> Iterator[uvicorn.Server]:
    config = uvicorn.Config(
        send_until_stalled,
        host="127.0.0.1",
        port=free_port(),
        ws=PacedWebSocket,
        ws_ping_interval=1.0,
        ws_ping_timeout=1.0,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(DEADLINE_S)


def test_a_stream_that_ends_while_its_client_reads_nothing_is_cut_off(
    server: uvicorn.Server,
) -> None:
    connection = socket.create_connection(("127.0.0.1", server.config.port), timeout=DEADLINE_S)
    with connection:
        connection.sendall(UPGRADE)
        deadline = time.monotonic() + DEADLINE_S
        while not server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        while server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.server_state.connections, "the server kept a client that reads nothing"
