"""The worker loop: claim a job, hold it by a lease, solve it, and let it go.

One job at a time per worker (a worker's model and cores are its unit of capacity; a fleet
scales by workers). The solver runs in a thread; this loop keeps the lease alive beside it
(the heartbeat), turns a cancel request into the solver's cancel flag, and on shutdown hands
the job back to the queue instead of ending it. A job that no worker manages to finish after
`max_starts` starts (crashes, lost leases) ends as failed with that reason, so no job is
retried forever and none is left without an ending.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.bus import JOBS_CHANNEL, Bus, job_channel
from service.config import Settings
from service.jobs.parts import WorkerParts
from service.jobs.recorder import JobAbandoned, JobRecorder
from service.jobs.spec import job_spec, load_resume
from service.solver.events import JobFailed
from service.solver.loop import CancelToken, SolveSpec, solve
from service.solver.strategies import Resume
from service.store.claims import claim_next_job, release, renew_lease
from service.store.errors import LeaseLost
from service.store.lifecycle import budget_left_now, count_starts, finish_with
from service.store.models import Job
from service.store.status import JobStatus, utcnow

logger = logging.getLogger(__name__)
MAX_STARTS = 5


def default_worker_id() -> str:
    """Host, pid and a random suffix: unique across restarts, readable in the jobs table."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Hold:
    """One job being worked on, and the flags its solver thread reads."""

    job_id: str
    cancel: CancelToken = field(default_factory=CancelToken)
    lost: threading.Event = field(default_factory=threading.Event)

    def stop_requested(self, stopping: threading.Event) -> Callable[[], bool]:
        return lambda: self.cancel() or self.lost.is_set() or stopping.is_set()


class Worker:
    """Claims and solves jobs until `stop()`; `parts` builds the engine and sandbox once."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        parts: Callable[[], WorkerParts],
        *,
        worker_id: str | None = None,
        max_starts: int = MAX_STARTS,
    ) -> None:
        self.settings, self.sessions, self.bus = settings, sessions, bus
        self._build_parts = parts
        self.worker_id = worker_id or default_worker_id()
        self.max_starts = max_starts
        self.stopping = threading.Event()
        self.ready = asyncio.Event()
        self._parts: WorkerParts | None = None
        self.current: _Hold | None = None  # the job being solved, if any

    def stop(self) -> None:
        """Finish at the next phase boundary, handing the current job back to the queue."""
        self.stopping.set()

    async def run(self) -> None:
        """Load the parts, then claim and solve jobs until stopped."""
        await self.prepare()
        wake = await self.bus.subscribe(JOBS_CHANNEL)
        try:
            while not self.stopping.is_set():
                if not await self.run_once():
                    await wake.wait(self.settings.worker.poll_s)
        finally:
            await wake.close()
            await self.close()

    async def prepare(self) -> None:
        """Build the engine and sandbox (slow, so in a thread); then the worker is ready."""
        self._parts = await asyncio.to_thread(self._build_parts)
        self.ready.set()
        logger.info("worker %s ready", self.worker_id)

    async def close(self) -> None:
        """Release the engine and sandbox."""
        if self._parts is not None:
            await asyncio.to_thread(self._parts.close)
            self._parts = None

    async def run_once(self) -> bool:
        """Claim one job and work on it; False when there was nothing to claim."""
        job = await self._claim()
        if job is None:
            return False
        await self._work(job)
        return True

    async def _claim(self) -> Job | None:
        lease_s = self.settings.worker.lease_s
        async with self.sessions() as session, session.begin():
            return await claim_next_job(session, self.worker_id, lease_s, utcnow())

    async def _work(self, job: Job) -> None:
        logger.info("worker %s took job %s", self.worker_id, job.id)
        try:
            spec = job_spec(job, self.settings)
            async with self.sessions() as session:
                resume = await load_resume(session, job)
                starts = await count_starts(session, job.id)
        except ValueError as exc:
            await self._fail(job.id, f"the stored job cannot run: {exc}")
            return
        if starts >= self.max_starts:
            await self._fail(job.id, f"started {starts} times and never finished")
            return
        await self._solve(spec, resume)

    async def _solve(self, spec: SolveSpec, resume: Resume) -> None:
        assert self._parts is not None, "run() builds the parts first"
        hold = self.current = _Hold(spec.job_id)
        recorder = JobRecorder(
            loop=asyncio.get_running_loop(),
            sessions=self.sessions,
            bus=self.bus,
            job_id=spec.job_id,
            worker_id=self.worker_id,
            lease_s=self.settings.worker.lease_s,
            stopping=self.stopping,
        )
        heartbeat = asyncio.create_task(self._heartbeat(hold))
        try:
            await asyncio.to_thread(
                solve,
                spec,
                self._parts.parts,
                events=recorder,
                attempts=recorder.attempts,
                adapters=recorder.adapters,
                cancelled=hold.stop_requested(self.stopping),
                resume=resume,
            )
        except JobAbandoned as exc:
            logger.warning("worker %s let go of job %s: %s", self.worker_id, spec.job_id, exc)
            if self.stopping.is_set() and not hold.lost.is_set():
                await self._hand_back(spec.job_id)
        finally:
            self.current = None
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _heartbeat(self, hold: _Hold) -> None:
        """Renew the lease every `heartbeat_s`, and at once when the job's channel wakes
        (a cancel request); a cancel flag on the row becomes the solver's cancel."""
        wake = await self.bus.subscribe(job_channel(hold.job_id))
        try:
            while True:
                await wake.wait(self.settings.worker.heartbeat_s)
                try:
                    job = await self._renew(hold.job_id)
                except LeaseLost:
                    hold.lost.set()
                    return
                except Exception:
                    # A database hiccup: keep trying until the lease itself lapses.
                    logger.exception("heartbeat of job %s failed", hold.job_id)
                    continue
                if job.cancel_requested:
                    hold.cancel.cancel()
        finally:
            await wake.close()

    async def _renew(self, job_id: str) -> Job:
        lease_s = self.settings.worker.lease_s
        async with self.sessions() as session, session.begin():
            return await renew_lease(session, job_id, self.worker_id, lease_s, utcnow())

    async def _hand_back(self, job_id: str) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await release(session, job_id, self.worker_id, requeue=True)
        except LeaseLost:
            return
        await self.bus.publish(JOBS_CHANNEL)

    async def _fail(self, job_id: str, reason: str) -> None:
        logger.error("job %s failed: %s", job_id, reason)
        async with self.sessions() as session, session.begin():
            job = await session.get(Job, job_id, with_for_update=True)
            if job is None or job.status is not JobStatus.RUNNING:
                return
            if job.lease_owner != self.worker_id:
                return
            event = JobFailed(
                attempts_used=job.attempts_used, budget_left=budget_left_now(job), reason=reason
            )
            await finish_with(session, job, event, now=utcnow())
        await self.bus.publish(job_channel(job_id))
