"""The one place where errors become answers: `{"error": {"code", "message", "field"}}` over
HTTP, and the same body in an error frame followed by close code `4000 + status` over a
WebSocket (4401, 4404, 4422, ...), always after the handshake is accepted, so browsers see
the code instead of a bare HTTP 403.

Service errors carry their own status and code (`service.errors`); request validation
answers 422 naming the first bad field as a dotted path (`budget.max_attempts`,
`problem.tests.public.0.output`); a database that cannot be reached is a 503 with
`Retry-After` (nothing was committed); anything unexpected is a 500 that names no internals and,
since `UnexpectedErrors` answers it itself, keeps the keep-alive connection. See
docs/http-api.md, "Errors".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from service.api.schemas import ErrorBody, ErrorDetail, WsError
from service.errors import ServiceError, ServiceUnavailable

logger = logging.getLogger(__name__)
_SOURCES = ("body", "message", "query", "path", "header", "cookie")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
WS_CLOSE_BASE = 4000  # a refused WebSocket closes with 4000 + the HTTP status it would get
WS_REASON_MAX_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error shape every endpoint answers with."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "budget", "max_attempts")` → `budget.max_attempts`; a header keeps its name."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if not parts:
            return str(source)
    return ".".join(str(part) for part in parts)


def describe_errors(errors: Sequence[Any]) -> tuple[str, str]:
    """The first error's field and a message for people."""
    first = errors[0]
    field = field_path(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return "body", f"the body is not valid JSON: {first.get('ctx', {}).get('error', '')}"
    message = f"{field}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return field, message


def ws_error_frame(code: str, message: str, field: str | None) -> str:
    """An error as a WebSocket text frame; its `type` tells it from events."""
    return WsError(error=ErrorDetail(code=code, message=message, field=field)).model_dump_json()


async def refuse_websocket(ws: WebSocket, status: int, detail: ErrorDetail) -> None:
    """Accept if need be, send the error frame, close with `4000 + status`."""
    if ws.client_state is WebSocketState.CONNECTING:
        await ws.accept()
    if ws.client_state is WebSocketState.CONNECTED:
        await ws.send_text(WsError(error=detail).model_dump_json())
        reason = detail.message.encode()[:WS_REASON_MAX_BYTES].decode(errors="ignore")
        await ws.close(code=WS_CLOSE_BASE + status, reason=reason)


async def _answer(
    conn: HTTPConnection,
    status: int,
    code: str,
    message: str,
    field: str | None,
    headers: dict[str, str] | None = None,
) -> Response | None:
    if isinstance(conn, WebSocket):
        await refuse_websocket(conn, status, ErrorDetail(code=code, message=message, field=field))
        return None
    return error_response(status, code, message, field, headers)


# The database cannot be reached (refused, reset, timed out, its pool exhausted, SQLite
# locked): nothing was committed, so the caller may retry; a 503 says so, a 500 would not.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


async def answer_unavailable(conn: HTTPConnection, exc: Exception) -> Response | None:
    """503 with `Retry-After` for a database that cannot be reached."""
    logger.warning("the database is unavailable on %s: %r", conn.url.path, exc)
    retry_s = ServiceUnavailable.retry_after_s
    down = ServiceUnavailable(f"the database is unavailable; retry in {retry_s} s")
    return await _answer(conn, down.status_code, down.code, down.message, None, down.headers())


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the app raises on purpose onto the one JSON shape."""

    @app.exception_handler(ServiceError)
    async def _service_error(conn: HTTPConnection, exc: ServiceError) -> Response | None:
        return await _answer(conn, exc.status_code, exc.code, exc.message, exc.field, exc.headers())

    for kind in DATABASE_DOWN:
        app.exception_handler(kind)(answer_unavailable)

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(WebSocketRequestValidationError)
    async def _invalid(
        conn: HTTPConnection, exc: RequestValidationError | WebSocketRequestValidationError
    ) -> Response | None:
        field, message = describe_errors(exc.errors())
        return await _answer(conn, 422, "invalid_request", message, field)

    @app.exception_handler(HTTPException)
    async def _http(conn: HTTPConnection, exc: HTTPException) -> Response | None:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return await _answer(conn, exc.status_code, code, str(exc.detail), None)


class UnexpectedErrors:
    """ASGI middleware: an exception no handler took becomes a 500 in the one shape.

    Starlette's own last-resort handler answers and then re-raises, which makes the server
    drop the connection; answering here keeps it. A response already under way cannot be
    answered again, so that exception goes on up (the server closes that connection).

    A client that goes away before its body is read is no server error: nobody is left to
    answer, so nothing is sent (no status reaches the metrics or the access log) and the
    event is only counted (`on_client_gone`).
    """

    def __init__(self, app: ASGIApp, on_client_gone: Callable[[], None]) -> None:
        self.app, self.on_client_gone = app, on_client_gone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ClientDisconnect:
            self.on_client_gone()
            logger.debug("the client left during %s %s", scope["method"], scope["path"])
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            message = "internal error; the server log has the details"
            await error_response(500, "internal", message)(scope, receive, send)
