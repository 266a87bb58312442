"""The baseline: a minimal ASGI app under the same uvicorn, with the same three routes.

`POST /solve` reads the body and answers 202 with a small JSON; `GET /jobs/{id}` answers a
small JSON; `GET /jobs/{id}/events` sends one SSE event and holds the stream open, as the
service does for a queued job. No database, no validation: what HTTP alone costs here.

    python -m benchmarks.api_load.baseline PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvicorn

Scope = dict[str, Any]
JOB = json.dumps({"id": "baseline", "status": "queued"}).encode()
EVENT = b'id: 1\nevent: job.queued\ndata: {"seq": 1, "type": "job.queued"}\n\n'


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """The three routes; anything else is 404."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if method == "POST" and path == "/solve":
        await _drain(receive)
        await _json(send, 202, JOB)
    elif method == "GET" and path.endswith("/events"):
        await _stream(receive, send)
    elif method == "GET" and path.startswith("/jobs/"):
        await _json(send, 200, JOB)
    else:
        await _json(send, 404, b'{"error": "not found"}')


async def _drain(receive: Any) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


async def _json(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": EVENT, "more_body": True})
    while (await receive())["type"] != "http.disconnect":
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
