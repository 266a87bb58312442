"""Live events: SSE with `Last-Event-ID` replay, and a WebSocket that also takes a cancel.

Both read the job's event log from the database and wait on the bus between reads. The
subscription starts before the first read, so an event committed in between wakes the
stream instead of being missed; the wait also times out, so a lost wake-up costs a second
of latency, never an event. The terminal event is the last one sent; then the stream ends.
Before each read the stream's key is checked (`service.api.revocation`): a revoked key's SSE
stream ends with an `error` event, its WebSocket with an error frame and close code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message

from service.api.auth import Caller, resolve_caller
from service.api.body import parse_json
from service.api.deps import State, StreamWho, now_utc
from service.api.errors import describe_errors, refuse_websocket, ws_error_frame
from service.api.inputs import AccessToken, AfterSeq, JobId, LastEventId
from service.api.schemas import CancelMessage, ErrorBody, ErrorDetail, EventView
from service.api.state import AppState, get_ws_state
from service.api.views import event_view
from service.bus import job_channel
from service.errors import InvalidRequest, ServiceError, Unauthorized
from service.solver.events import TERMINAL_TYPES
from service.store.errors import JobAlreadyEnded
from service.store.events import list_events_after
from service.store.jobs import get_owned_job, request_cancel
from service.store.models import Event, Job
from service.store.status import TERMINAL

router = APIRouter(tags=["events"])
READ_BATCH = 500
REREAD_S = 1.0
CANCEL_MESSAGE = TypeAdapter(CancelMessage)
WsState = Annotated[AppState, Depends(get_ws_state)]


@dataclass(frozen=True)
class Opening:
    """What a stream's request read in its one session: the job, and the first events."""

    job: Job
    first: Sequence[Event]


async def open_stream(state: AppState, job_id: str, who: Caller, after_seq: int) -> Opening:
    """The caller's job and its first batch of events after `after_seq`, in one session."""
    async with state.reads() as session:
        job = await get_owned_job(session, job_id, who.api_key_id)
        first = await list_events_after(session, job_id, after_seq, limit=READ_BATCH)
    return Opening(job, first)


async def job_events(
    state: AppState, job_id: str, who: Caller, after_seq: int, first: Sequence[Event]
) -> AsyncIterator[EventView]:
    """The job's events after `after_seq`, live, ending with the terminal event; `first` is
    the batch the request read already (an event committed between that read and the
    subscription is found by the next timed re-read: a second late, never lost)."""
    wake = await state.bus.subscribe(job_channel(job_id))
    rows = first
    try:
        while True:
            for row in rows:
                after_seq = row.seq
                yield event_view(row)
                if row.type in TERMINAL_TYPES:
                    return
            if len(rows) < READ_BATCH:
                await wake.wait(REREAD_S)
            await state.key_checks.require_live(who.api_key_id)
            async with state.reads() as session:
                rows = await list_events_after(session, job_id, after_seq, limit=READ_BATCH)
    finally:
        await wake.close()


def nothing_left(job: Job, after_seq: int, field: str) -> bool:
    """Whether a finished job has no event after `after_seq`; `InvalidRequest` naming `field`
    for a seq the job never reached (a client cannot have seen it)."""
    if after_seq > job.last_event_seq:
        message = f"{field}: {after_seq} is past the job's last event seq ({job.last_event_seq})"
        raise InvalidRequest(message, field=field)
    return job.status in TERMINAL and after_seq == job.last_event_seq


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "events as SSE"},
        204: {"description": "the job has ended and nothing follows the given seq"},
        **{code: {"model": ErrorBody} for code in (401, 404, 422)},
    },
)
async def events(
    job_id: JobId,
    state: State,
    who: StreamWho,
    last_event_id: LastEventId = None,
    after: AfterSeq = 0,
) -> Response:
    """Server-sent events: `id:` is the seq, `event:` the type, `data:` the event as JSON.
    Replay starts after `Last-Event-ID` (what a reconnecting browser sends), else `after`;
    204 once a finished job has nothing after it, 422 for a seq past the job's last event."""
    field, after_seq = (
        ("after", after) if last_event_id is None else ("Last-Event-ID", last_event_id)
    )
    opening = await open_stream(state, job_id, who, after_seq)
    if nothing_left(opening.job, after_seq, field):
        return Response(status_code=204)  # EventSource stops reconnecting on a 204

    async def stream() -> AsyncIterator[ServerSentEvent]:
        state.metrics.streams.inc()
        try:
            async for event in job_events(state, job_id, who, after_seq, opening.first):
                yield ServerSentEvent(
                    data=event.model_dump_json(), event=event.type, id=str(event.seq)
                )
        except Unauthorized as exc:  # the key was revoked while the stream was open
            detail = ErrorDetail(code=exc.code, message=exc.message, field=exc.field)
            yield ServerSentEvent(data=ErrorBody(error=detail).model_dump_json(), event="error")
        finally:
            state.metrics.streams.dec()

    return EventSourceResponse(stream(), ping=state.settings.sse_ping_s)


@router.websocket("/jobs/{job_id}/ws")
async def websocket(
    ws: WebSocket,
    job_id: JobId,
    state: WsState,
    access_token: AccessToken = None,
    after: AfterSeq = 0,
) -> None:
    """The same events as JSON messages; send `{"type": "cancel"}` to cancel the job.

    A refusal (bad parameter, no key, no such job) is accepted, answered with an error frame
    and closed with `4000 + status` (4422, 4401, 4404) by `service.api.errors`."""
    who = await resolve_caller(state, ws.headers.get("authorization"), access_token)
    opening = await open_stream(state, job_id, who, after)
    ended = nothing_left(opening.job, after, "after")
    await ws.accept()
    if ended:
        await ws.close(code=1000)
        return
    state.metrics.streams.inc()
    sender = asyncio.create_task(_send(ws, state, job_id, who, after, opening.first))
    listener = asyncio.create_task(_listen(ws, state, job_id, who))
    try:
        # Whichever ends first ends both: the job's terminal event, the client leaving, or
        # the key's revocation (either task raises `Unauthorized`).
        done, pending = await asyncio.wait({sender, listener}, return_when=FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await _end(ws, sender, done)
    finally:
        state.metrics.streams.dec()


async def _end(ws: WebSocket, sender: asyncio.Task[bool], done: set[asyncio.Task[Any]]) -> None:
    """Close as the first task to finish says: 1000 after the terminal event, `4000 + status`
    for a refusal (a revoked key), nothing if the client left."""
    for task in done:
        error = task.exception()
        if isinstance(error, ServiceError):
            detail = ErrorDetail(code=error.code, message=error.message, field=error.field)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await refuse_websocket(ws, error.status_code, detail)
            return
    if sender in done and sender.result():
        await ws.close(code=1000)


async def _send(
    ws: WebSocket, state: AppState, job_id: str, who: Caller, after: int, first: Sequence[Event]
) -> bool:
    """Send the job's events; True once the terminal event went out, False if the client
    left first."""
    try:
        async for event in job_events(state, job_id, who, after, first):
            await ws.send_text(event.model_dump_json())
    except (WebSocketDisconnect, RuntimeError):
        return False  # Starlette raises RuntimeError when sending on a closed socket
    return True


async def _listen(ws: WebSocket, state: AppState, job_id: str, who: Caller) -> None:
    """Take frames until the client goes: a cancel message cancels, anything else (another
    message, bad JSON, a binary frame) is answered with an error frame and the connection
    stays open."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            error = await _take(state, job_id, who, message)
            if error is not None:
                await ws.send_text(error)


async def _take(state: AppState, job_id: str, who: Caller, message: Message) -> str | None:
    """Act on one frame; the error frame to send back, or None."""
    text = message.get("text")
    if text is None:
        return ws_error_frame(
            "invalid_message", "binary frames are not accepted; send JSON text", "message"
        )
    try:
        parse_json(text.encode(), CANCEL_MESSAGE, source="message")
    except ServiceError as exc:
        return ws_error_frame("invalid_message", exc.message, exc.field)
    except RequestValidationError as exc:
        field, problem = describe_errors(exc.errors())
        return ws_error_frame("invalid_message", problem, field)
    return await _cancel(state, job_id, who)


async def _cancel(state: AppState, job_id: str, who: Caller) -> str | None:
    await state.key_checks.require_live(who.api_key_id, fresh=True)
    try:
        async with state.sessions() as session, session.begin():
            await request_cancel(session, job_id, now=now_utc())
    except JobAlreadyEnded as exc:
        return ws_error_frame(exc.code, exc.message, None)
    await state.bus.publish(job_channel(job_id))
    return None
