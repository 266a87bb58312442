"""The solver's sinks on a worker: every event is committed before the solver goes on.

The solver runs in a thread; the database and the bus live on the worker's event loop. Each
`emit` hands one write to the loop and waits for its commit, so the job's row, its attempts
and its event log advance together. An attempt's record waits for its `attempt.finished`
event and commits with it: a crash leaves both or neither, so a resumed job neither loses an
attempt nor counts one twice. The seconds the job has spent commit with every event too: a
resume starts its clock from them. Every write first renews the lease under the row's lock; a
worker that lost its lease stops writing at once: the recorder records the job's stop reason,
then raises `Stopped`, which the loop turns into an unended ("abandoned") solve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

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

T = TypeVar("T")


class Held(Generic[T]):
    """A sink that keeps its latest record until the event that reports it is written."""

    def __init__(self) -> None:
        self._value: T | None = None

    def record(self, value: T) -> None:
        """Hold `value` for the next event."""
        self._value = value

    def take(self) -> T | None:
        """The held value, once."""
        value, self._value = self._value, None
        return value


class JobRecorder:
    """The sinks of one job on one worker: `emit` (events), `attempts` and `adapters`."""

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
        self.attempts: Held[AttemptRecord] = Held()
        self.adapters: Held[AdapterRef] = Held()
        self.elapsed: Held[float] = Held()

    def emit(self, event: Event) -> None:
        """Commit the event (with the attempt or adapter it reports), then announce it."""
        reason = self.stop()
        if reason is not None and reason is not StopReason.CANCEL:
            raise Stopped(reason)  # a cancel still writes its ending; the others write nothing
        write = asyncio.run_coroutine_threadsafe(
            self._write(event, self.attempts.take(), self.adapters.take(), self.elapsed.take()),
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
        elapsed_seconds: float | None,
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
            if elapsed_seconds is not None:
                job.elapsed_seconds = elapsed_seconds
            apply_event(job, event, now=now)
            await append_event(session, self.job_id, event, now=now)
        await self._bus.publish(job_channel(self.job_id))
