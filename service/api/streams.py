"""Live events: SSE with `Last-Event-ID` replay, and a WebSocket that also takes a cancel.

Both read the job's event log from the database and wait on the bus between reads. The
subscription starts before the first read, so an event committed in between wakes the
stream instead of being missed; the wait also times out, so a lost wake-up costs a second
of latency, never an event. The terminal event is the last one sent; then the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from service.api.auth import Caller, resolve_caller, stream_caller
from service.api.errors import field_path
from service.api.schemas import CancelMessage, ErrorBody, ErrorDetail, EventView, JobId, WsError
from service.api.state import AppState, get_state, get_ws_state
from service.api.views import event_view
from service.bus import job_channel
from service.errors import InvalidRequest, ServiceError
from service.solver.events import TERMINAL_TYPES
from service.store.events import list_events_after
from service.store.jobs import get_owned_job
from service.store.lifecycle import request_cancel
from service.store.status import utcnow

router = APIRouter(tags=["events"])
READ_BATCH = 500
REREAD_S = 1.0
WS_NOT_FOUND, WS_UNAUTHORIZED = 4404, 4401


async def job_events(state: AppState, job_id: str, after_seq: int) -> AsyncIterator[EventView]:
    """The job's events after `after_seq`, live, ending with the terminal event."""
    wake = await state.bus.subscribe(job_channel(job_id))
    try:
        while True:
            async with state.sessions() as session:
                rows = await list_events_after(session, job_id, after_seq, limit=READ_BATCH)
            for row in rows:
                after_seq = row.seq
                yield event_view(row)
                if row.type in TERMINAL_TYPES:
                    return
            if len(rows) < READ_BATCH:
                await wake.wait(REREAD_S)
    finally:
        await wake.close()


def parse_last_event_id(header: str | None, query: int | None) -> int:
    """The seq to resume after: the `Last-Event-ID` header wins over `?after=`."""
    if header is None:
        return query or 0
    if not header.strip().isdigit():
        raise InvalidRequest(
            "Last-Event-ID must be an event seq (0, 1, 2, ...)", field="Last-Event-ID"
        )
    return int(header.strip())


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "events as SSE"},
        **{code: {"model": ErrorBody} for code in (401, 404, 422)},
    },
)
async def events(
    job_id: JobId,
    state: Annotated[AppState, Depends(get_state)],
    who: Annotated[Caller, Depends(stream_caller)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> EventSourceResponse:
    """Server-sent events: `id:` is the seq, `event:` the type, `data:` the event as JSON."""
    after_seq = parse_last_event_id(last_event_id, after)
    async with state.sessions() as session:
        await get_owned_job(session, job_id, who.api_key_id)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        state.metrics.streams.inc()
        try:
            async for event in job_events(state, job_id, after_seq):
                yield ServerSentEvent(
                    data=event.model_dump_json(), event=event.type, id=str(event.seq)
                )
        finally:
            state.metrics.streams.dec()

    return EventSourceResponse(stream(), ping=state.settings.sse_ping_s)


@router.websocket("/jobs/{job_id}/ws")
async def websocket(
    ws: WebSocket,
    job_id: JobId,
    access_token: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[int, Query(ge=0)] = 0,
) -> None:
    """The same events as JSON messages; send `{"type": "cancel"}` to cancel the job."""
    state = get_ws_state(ws)
    try:
        who = await resolve_caller(state, ws.headers.get("authorization"), access_token)
        async with state.sessions() as session:
            await get_owned_job(session, job_id, who.api_key_id)
    except ServiceError as exc:
        code = WS_UNAUTHORIZED if exc.status_code == 401 else WS_NOT_FOUND
        await ws.close(code=code, reason=exc.message[:120])
        return
    await ws.accept()
    state.metrics.streams.inc()
    sender = asyncio.create_task(_send(ws, state, job_id, after))
    listener = asyncio.create_task(_listen(ws, state, job_id))
    try:
        # Whichever ends first ends both: the job's terminal event, or the client leaving.
        done, pending = await asyncio.wait({sender, listener}, return_when=FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if sender in done and sender.result():
            await ws.close(code=1000)
    finally:
        state.metrics.streams.dec()


async def _send(ws: WebSocket, state: AppState, job_id: str, after: int) -> bool:
    """Send the job's events; True once the terminal event went out, False if the client
    left first."""
    try:
        async for event in job_events(state, job_id, after):
            await ws.send_text(event.model_dump_json())
    except (WebSocketDisconnect, RuntimeError):
        return False  # Starlette raises RuntimeError when sending on a closed socket
    return True


async def _listen(ws: WebSocket, state: AppState, job_id: str) -> None:
    """Take cancel messages until the client goes; answer anything else with an error."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            raw = await ws.receive_text()
            try:
                CancelMessage.model_validate_json(raw)
            except ValidationError as exc:
                await ws.send_text(_ws_error(exc))
                continue
            async with state.sessions() as session, session.begin():
                await request_cancel(session, job_id, now=utcnow())
            await state.bus.publish(job_channel(job_id))


def _ws_error(exc: ValidationError) -> str:
    first: dict[str, Any] = dict(exc.errors()[0])
    field = field_path(first.get("loc", ())) or "message"
    detail = ErrorDetail(code="invalid_message", message=str(first["msg"]), field=field)
    return WsError(error=detail).model_dump_json()
