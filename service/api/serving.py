"""How an API process serves: uvicorn with the edge limits of `RETROSPECT_EDGE__*` (the table
in docs/limits.md), uvicorn's and the websockets library's own settings wherever they exist.

Two protocol subclasses add what uvicorn lacks: a header timeout (a connection that has not
sent a whole request head within `header_timeout_s` is closed, so trickled headers cannot
hold it), and back-pressure on WebSockets (while the client does not read what the server
writes, the server stops reading from it, so a flood of pings cannot grow the server's write
buffer; a client that takes none of the server's bytes for a keep-alive round is cut off,
however the connection was ending). On SIGTERM the in-process
worker (`retrospect serve`) is told to hand its jobs back before open connections drain.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Callable
from types import FrameType
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from service.config import EdgeSettings, Settings

RESERVED_FILES = 64  # descriptors kept for the database pool, Redis, logs and the sandbox
DEFAULT_STALL_S = 40.0  # a WebSocket's stall limit when keep-alive pings are off


class Deadline:
    """A one-shot timer on the event loop: `start` arms it (again only once it fired or was
    stopped), `stop` disarms it, and `expired` runs if it was not stopped in time."""

    def __init__(self, delay_s: float, expired: Callable[[], None]) -> None:
        self.delay_s = delay_s
        self.expired = expired
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.delay_s, self._fire)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self.expired()


class HeaderTimeoutH11(H11Protocol):
    """h11 with a deadline on each request head (uvicorn's keep-alive timeout covers only the
    idle time after an answer)."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_deadline = Deadline(self.header_timeout_s, self._head_late)
        super().connection_made(transport)
        self._watch_head()

    def handle_events(self) -> None:
        super().handle_events()
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_deadline.stop()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _watch_head(self) -> None:
        # The peer is IDLE until a whole request head arrived: time it; afterwards, not.
        if self._waiting_for_head():
            self._head_deadline.start()
        else:
            self._head_deadline.stop()

    def _head_late(self) -> None:
        if self._waiting_for_head():
            self.transport.abort()  # nothing was asked, so nothing is answered


class PacedWebSocket(WebSocketsSansIOProtocol):
    """websockets (sans-I/O) that stops reading while the client does not read, and cuts off a
    client that has taken none of the server's bytes for a keep-alive round.

    The transport's high-water mark is zero, so writes are "paused" exactly while some bytes
    wait that the kernel would not take. While paused, the server reads nothing from the
    client (a ping flood cannot grow its buffers); if still paused after `ping_interval +
    ping_timeout`, the transport is aborted. This bounds every way a connection ends with
    bytes the client will never read: the keep-alive verdict, the app's close, the app's
    return (uvicorn's `transport.close()` waits for the buffer to drain, which never happens).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stall_s = (self.ping_interval or 0.0) + (self.ping_timeout or 0.0) or DEFAULT_STALL_S
        self._stall_deadline = Deadline(stall_s, self._stalled)
        super().connection_made(transport)
        self.transport.set_write_buffer_limits(high=0, low=0)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stall_deadline.stop()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()
        self._stall_deadline.start()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stall_deadline.stop()
        if not self.read_paused and not self.transport.is_closing():
            self.transport.resume_reading()  # unless uvicorn holds a message for the app

    async def receive(self) -> Any:
        message = await super().receive()
        if not self.writable.is_set() and not self.transport.is_closing():
            self.transport.pause_reading()  # uvicorn resumed reading for the app: not yet
        return message

    def _stalled(self) -> None:
        self.transport.abort()


def connection_limit(edge: EdgeSettings) -> int:
    """`max_connections`, kept below this process's open-files limit (less a reserve), so too
    many clients get a 503 instead of locking everyone out with EMFILE."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return edge.max_connections
    return max(1, min(edge.max_connections, soft - RESERVED_FILES))


def server_config(
    app: FastAPI, settings: Settings, host: str, port: int, **extra: Any
) -> uvicorn.Config:
    """uvicorn's settings for an API process (docs/limits.md)."""
    edge = settings.edge
    http = type("EdgeH11", (HeaderTimeoutH11,), {"header_timeout_s": edge.header_timeout_s})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http,
        ws=PacedWebSocket,
        h11_max_incomplete_event_size=edge.max_header_bytes,
        timeout_keep_alive=edge.keep_alive_s,
        timeout_graceful_shutdown=edge.graceful_stop_s,
        limit_concurrency=connection_limit(edge),
        ws_max_size=edge.ws_max_message_bytes,
        ws_ping_interval=edge.ws_ping_interval_s,
        ws_ping_timeout=edge.ws_ping_timeout_s,
        **extra,
    )


class EdgeServer(uvicorn.Server):
    """uvicorn's server; on a stop signal the app's in-process worker (if any) starts handing
    its jobs back at once, while connections drain, instead of after."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        state = getattr(self._app.state, "retrospect", None)
        if state is not None and state.worker is not None:
            state.worker.stop()
        super().handle_exit(sig, frame)


def serve(app: FastAPI, settings: Settings, host: str, port: int, **extra: Any) -> None:
    """Run `app` until SIGTERM or SIGINT, within the edge limits."""
    EdgeServer(server_config(app, settings, host, port, **extra), app).run()
