"""Who is calling: `Authorization: Bearer <key>`, checked against the stored hashes.

Browsers cannot set headers on an EventSource, a WebSocket or a download link, so those
routes (events, ws, adapter) also take the key as `?access_token=`; the server's logs show
such URLs with the token redacted (`service.api.logs`). Without a key, a caller is anonymous,
which only the loopback default allows; anonymous callers share one scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from service.api.inputs import AccessToken, Authorization
from service.api.state import AppState, get_state
from service.errors import Unauthorized
from service.store.keys import find_api_key

BEARER = "bearer"


@dataclass(frozen=True)
class Caller:
    """The caller's key id; None for the anonymous caller of a loopback default."""

    api_key_id: str | None


async def resolve_caller(state: AppState, authorization: str | None, token: str | None) -> Caller:
    """The caller behind a header or a query token; `Unauthorized` naming what is wrong."""
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != BEARER or not key.strip():
            raise Unauthorized("use 'Authorization: Bearer <key>'", field="Authorization")
        token = key.strip()
    if token is None:
        if state.keys_required:
            raise Unauthorized(
                "an API key is required: 'Authorization: Bearer <key>'", field="Authorization"
            )
        return Caller(None)
    async with state.reads() as session:
        row = await find_api_key(session, token)
    if row is None:
        raise Unauthorized("unknown or revoked API key", field="Authorization")
    return Caller(row.id)


async def caller(
    state: Annotated[AppState, Depends(get_state)],
    authorization: Authorization = None,
) -> Caller:
    """The caller of an ordinary route (header only)."""
    return await resolve_caller(state, authorization, None)


async def stream_caller(
    state: Annotated[AppState, Depends(get_state)],
    authorization: Authorization = None,
    access_token: AccessToken = None,
) -> Caller:
    """The caller of a route a browser opens directly (header or `?access_token=`)."""
    return await resolve_caller(state, authorization, access_token)
