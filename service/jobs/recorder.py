"""The solver's sink on a worker: every event is committed before the solver goes on.

The solver runs in a thread; the database and the bus live on the worker's event loop. Each
`commit` hands one transaction to the loop and waits for it, so the job's row, its attempts,
its adapters and its event log advance together (`solver/sink.py` says why). A resume starts
its clock from the seconds written with the newest event. Every write first renews the lease
under the row's lock; a worker that lost its lease stops writing at once: the recorder records
the job's stop reason, then raises `Stopped`, which the loop turns into an unended
("abandoned") solve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.bus import Bus, job_channel
from service.engine.types import AdapterRef
from service.solver.attempts import AttemptRecord
from service.solver.events import Event
from service.solver.stop import JobStop, Stopped, StopReason
from service.store.adapters import record_adapter
from service.store.attempts import record_attempt
from service.store.claims import renew_lease
from service.store.errors import LeaseLost
from service.store.events import append_event
from service.store.jobs import apply_event
from service.store.status import utcnow


class JobRecorder:
    """The sink of one job on one worker."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        job_id: str,
        worker_id: str,
        lease_s: float,
        stop: JobStop,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._loop, self._sessions, self._bus = loop, sessions, bus
        self.job_id, self.worker_id, self.lease_s = job_id, worker_id, lease_s
        self.stop = stop
        self._clock = clock

    def commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
        elapsed_s: float,
    ) -> None:
        """Commit the event with the attempt or adapter it reports, then announce it."""
        reason = self.stop()
        if reason is not None and reason is not StopReason.CANCEL:
            raise Stopped(reason)  # a cancel still writes its ending; the others write nothing
        write = asyncio.run_coroutine_threadsafe(
            self._write(event, attempt, adapter, elapsed_s),
            self._loop,
        )
        try:
            write.result()
        except LeaseLost as exc:
            self.stop.request(StopReason.LEASE_LOST)
            raise Stopped(StopReason.LEASE_LOST) from exc

    async def _write(
        self,
        event: Event,
        attempt: AttemptRecord | None,
        adapter: AdapterRef | None,
        elapsed_s: float,
    ) -> None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            job = await renew_lease(session, self.job_id, self.worker_id, self.lease_s, now)
            if attempt is not None:
                await record_attempt(session, job, attempt, now=now)
            if adapter is not None:
                await record_adapter(
                    session,
                    self.job_id,
                    version=adapter.version,
                    name=adapter.name,
                    int_id=adapter.int_id,
                    path=str(adapter.path),
                    sha256=adapter.sha256,
                    now=now,
                )
            job.elapsed_seconds = elapsed_s
            apply_event(job, event, now=now)
            await append_event(session, self.job_id, event, now=now)
        await self._bus.publish(job_channel(self.job_id))
