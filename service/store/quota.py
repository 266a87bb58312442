"""The per-key limit of active jobs, exact under concurrency.

Counting a caller's queued and running jobs and then inserting one is a race unless nobody
else can do the same for that caller in between. A submit therefore inserts its job first and
then counts under a lock on the caller's scope, held until the transaction ends: the count
sees every job that an earlier holder committed plus its own, and jobs not yet counted are
invisible (uncommitted) until their own count. Only the count and the commit happen under
the lock.
- Postgres: a transaction-level advisory lock keyed by a hash of the scope, so submits of
  different callers never wait on each other;
- SQLite: every transaction begins IMMEDIATE (`db.py`) and so already holds the database's
  single write lock from its first statement; nothing more is needed.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.store.jobs import count_active_jobs, idempotency_scope

_LOCK_NAMESPACE = b"retrospect.active-jobs:"


def scope_lock_id(api_key_id: str | None) -> int:
    """A signed 64-bit advisory lock id for the caller's scope."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + idempotency_scope(api_key_id).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_scope(session: AsyncSession, api_key_id: str | None) -> None:
    """Serialize the caller's submits until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(scope_lock_id(api_key_id))))


async def count_active_jobs_locked(session: AsyncSession, api_key_id: str | None) -> int:
    """The caller's queued and running jobs (this transaction's new one included), counted
    under the caller's lock, which is held until the transaction ends."""
    await lock_scope(session, api_key_id)
    return await count_active_jobs(session, api_key_id)
