"""What handlers depend on, as `Annotated` types: the app's state, the caller, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends

from service.api.auth import Caller, caller, stream_caller
from service.api.state import AppState, get_state


def now_utc() -> datetime:
    """Now, timezone-aware UTC: what the store's timestamp columns hold."""
    return datetime.now(UTC)


async def current_time() -> datetime:
    """`now_utc` as a dependency (async: FastAPI runs a plain function in a thread)."""
    return now_utc()


State = Annotated[AppState, Depends(get_state)]
Who = Annotated[Caller, Depends(caller)]
# Routes a browser opens directly (events, adapter) also take `?access_token=`.
StreamWho = Annotated[Caller, Depends(stream_caller)]
Now = Annotated[datetime, Depends(current_time)]
# Every dependency here is async for the same reason (`get_state` and the callers too).
