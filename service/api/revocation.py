"""Revocation reaches open streams: an SSE stream or a WebSocket opened with a key that is
revoked afterwards ends within `KEY_RECHECK_S` plus one re-read (`streams.REREAD_S`).

A stream checks its key at each of its reads; the answer is cached per key for
`KEY_RECHECK_S`, so a process asks the database about a key at most once per period however
many streams that key holds open. A cancel over the WebSocket checks afresh.
"""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.errors import Unauthorized
from service.store.keys import key_is_live

KEY_RECHECK_S = 2.0
REVOKED = "the API key was revoked"


class KeyChecks:
    """Whether keys are still live, cached per key for `recheck_s`."""

    def __init__(
        self, reads: async_sessionmaker[AsyncSession], recheck_s: float = KEY_RECHECK_S
    ) -> None:
        self._reads, self._recheck_s = reads, recheck_s
        self._checked: dict[str, tuple[float, bool]] = {}  # key id -> (monotonic time, live)

    async def require_live(self, key_id: str | None, *, fresh: bool = False) -> None:
        """`Unauthorized` if the key was revoked; the anonymous caller (None) always passes."""
        if key_id is not None and not await self._is_live(key_id, fresh):
            raise Unauthorized(REVOKED, field="Authorization")

    async def _is_live(self, key_id: str, fresh: bool) -> bool:
        now = time.monotonic()
        cached = self._checked.get(key_id)
        if cached is not None and not fresh and now - cached[0] < self._recheck_s:
            return cached[1]
        async with self._reads() as session:
            live = await key_is_live(session, key_id)
        self._checked[key_id] = (now, live)
        return live
