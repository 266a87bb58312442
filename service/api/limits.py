"""What one request may ask for (settings `RETROSPECT_LIMITS__*`): 413 for the body's size,
422 naming the field for everything inside it; and what it may take of the edge
(`RETROSPECT_EDGE__*`, docs/limits.md): 431 for a head too large, 408 for a slow body."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.api.schemas import SolveRequest
from service.config import LimitSettings
from service.errors import (
    RequestHeadTooLarge,
    RequestTimeout,
    ServiceError,
    require_at_most,
)
from service.solver.budget import Budget


class HeadLimit:
    """ASGI middleware: a request head with more than `max_headers` fields, or more than
    `max_bytes` of target and headers, is a 431. uvicorn (h11) bounds only what it buffers of
    a head still arriving; a head that arrives whole in one read is checked here."""

    def __init__(self, app: ASGIApp, max_headers: int, max_bytes: int) -> None:
        self.app, self.max_headers, self.max_bytes = app, max_headers, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = None if scope["type"] != "http" else self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        await _refuse(RequestHeadTooLarge(problem, field="headers"), scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        headers = scope["headers"]
        if len(headers) > self.max_headers:
            return f"{len(headers)} header fields; at most {self.max_headers}"
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
        size += sum(len(name) + len(value) for name, value in headers)
        if size > self.max_bytes:
            return f"the request target and headers have {size} bytes; at most {self.max_bytes}"
        return None


class BodySizeLimit:
    """ASGI middleware: refuse bodies over `max_bytes` with 413 before any route sees them,
    and bodies not whole within `timeout_s` with 408 (so a trickled body cannot hold a
    connection, or a graceful stop, for long).

    A declared `Content-Length` is checked first; a chunked body is read (up to the limit)
    and replayed to the app, since a route's own body parsing would turn an error raised
    mid-read into a 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                messages = await self._read(receive)
        except TimeoutError:
            late = RequestTimeout(
                f"the body was not whole within {self.timeout_s:g} s", field="body"
            )
            await _refuse(late, scope, receive, send)
            return
        if messages is None:
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None once they exceed the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if message["type"] != "http.request" or not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the body exceeds {self.max_bytes} bytes"
        response = error_response(413, "payload_too_large", message, "body")
        await response(scope, receive, send)


async def _refuse(error: ServiceError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `error` in the one shape, from a middleware (before any route's handlers)."""
    response = error_response(error.status_code, error.code, error.message, error.field)
    await response(scope, receive, send)


def check_request(request: SolveRequest, limits: LimitSettings) -> None:
    """Raise `InvalidRequest` naming the first field beyond a limit."""
    tests = request.problem.tests
    count = len(tests.public) + len(tests.hidden)
    require_at_most("problem.tests", count, limits.max_tests, "tests (public and hidden)")
    require_at_most(
        "problem.statement", len(request.problem.statement), limits.max_statement_chars, "chars"
    )
    check_limits(request.budget, limits)
    if request.sampling.max_new_tokens is not None:
        require_at_most(
            "sampling.max_new_tokens",
            request.sampling.max_new_tokens,
            limits.max_new_tokens,
            "tokens",
        )
    metadata_chars = len(json.dumps(request.metadata))
    require_at_most("metadata", metadata_chars, limits.max_metadata_chars, "chars of JSON")


def check_limits(budget: Budget, limits: LimitSettings) -> None:
    """Raise `InvalidRequest` naming the first field beyond the configured ceilings."""
    require_at_most("budget.max_attempts", budget.max_attempts, limits.max_attempts, "attempts")
    require_at_most(
        "budget.attempts_per_round",
        budget.attempts_per_round,
        limits.max_attempts_per_round,
        "attempts",
    )
    require_at_most("budget.max_seconds", budget.max_seconds, limits.max_seconds, "seconds")
    if budget.max_rounds is not None:
        # A round holds at least one attempt: more rounds than attempts could never be spent.
        require_at_most("budget.max_rounds", budget.max_rounds, limits.max_attempts, "rounds")
