"""The worker loop: claim jobs, hold each by a lease, solve them, and let them go.

A worker holds up to `settings.worker.max_jobs` jobs at once (its model and cores are its unit
of capacity: the jobs share the one base model, each with its own adapter; a fleet scales by
workers). The claim loop claims while a slot is free, and wakes when a job is announced on the
jobs channel, when a held job ends, or on `stop()`. Each held job is independent of the
others: its solver runs on a thread of the worker's own pool (sized to `max_jobs`, so the
default executor's few threads never queue a job behind another), beside it the job's own
heartbeat keeps its lease alive and records a cancel request or a lost lease as the job's stop
reason (`solver/stop.py`), and its own recorder commits its events and attempts. On shutdown
every held job goes back to the queue instead of ending. A job that no worker manages to finish
after `max_starts` starts (crashes, lost leases) ends as failed with that reason, so no job is
retried forever and none is left without an ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.bus import JOBS_CHANNEL, Bus, Subscription, job_channel
from service.config import Settings
from service.engine.sharing import BatchStats, SharedSampler
from service.jobs.parts import WorkerParts, seated_parts
from service.jobs.recorder import JobRecorder
from service.jobs.spec import job_spec, resume_from
from service.solver.loop import SolveOutcome, SolverParts, SolveSpec, solve
from service.solver.stop import ABANDONED, JobStop, StopReason
from service.solver.strategies import Resume
from service.store.claims import claim_next_job, release, renew_lease
from service.store.errors import LeaseLost
from service.store.jobs import fail_held_job
from service.store.models import Job
from service.store.resume import resume_point
from service.store.status import utcnow

logger = logging.getLogger(__name__)
MAX_STARTS = 5


def default_worker_id() -> str:
    """Host, pid and a random suffix: unique across restarts, readable in the jobs table."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Hold:
    """One job being worked on, and why it must stop (read by its solver thread)."""

    job_id: str
    stop: JobStop = field(default_factory=JobStop)


def _solve_seated(spec: SolveSpec, parts: SolverParts, **kwargs: Any) -> SolveOutcome:
    """`solve`, with the job seated at the worker's shared sampler for the whole solve."""
    with seated_parts(parts, spec.job_id) as own:
        return solve(spec, own, **kwargs)


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
        self.max_jobs = settings.worker.max_jobs
        self.stopping = threading.Event()
        self.ready = asyncio.Event()
        self._parts: WorkerParts | None = None
        self._held: dict[str, _Hold] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()  # a slot freed, a job announced, or stop()
        self._solvers = ThreadPoolExecutor(
            max_workers=self.max_jobs, thread_name_prefix=f"solve-{self.worker_id}"
        )

    @property
    def held(self) -> Mapping[str, _Hold]:
        """The jobs held now, by id, in the order they were claimed (a read-only view)."""
        return MappingProxyType(self._held)

    def sampling_stats(self) -> BatchStats | None:
        """The shared sampler's batches, when this worker shares one between held jobs."""
        sampler = self._parts.parts.sampler if self._parts is not None else None
        return sampler.stats if isinstance(sampler, SharedSampler) else None

    def held_job_ids(self) -> tuple[str, ...]:
        """The ids of the jobs held now, as a snapshot (safe to call from any thread)."""
        return tuple(self._held)

    def stop(self) -> None:
        """Finish every held job at its next phase boundary, handing each back to the queue.

        Safe from any thread (a signal handler, a solver thread): the claim loop wakes at once.
        """
        self.stopping.set()
        for hold in list(self._held.values()):
            hold.stop.request(StopReason.SHUTDOWN)
        self._wake_threadsafe()

    async def run(self) -> None:
        """Load the parts, then claim and solve jobs until stopped."""
        await self.prepare()
        wake = await self.bus.subscribe(JOBS_CHANNEL)
        listener = asyncio.create_task(self._listen(wake), name=f"{self.worker_id}-jobs-channel")
        try:
            while not self.stopping.is_set():
                self._changed.clear()  # before claiming: a change during the claims counts
                await self._claim_while_room()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self.settings.worker.poll_s)
                if listener.done():
                    await listener  # the bus failed: stop, as a failed claim would
        finally:
            # However the loop ended, the held jobs go back to the queue before the parts close.
            self.stop()
            await self._drain()
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await wake.close()
            await self.close()

    async def prepare(self) -> None:
        """Build the engine and sandbox (slow, so in a thread); then the worker is ready."""
        self._loop = asyncio.get_running_loop()
        self._parts = await asyncio.to_thread(self._build_parts)
        self.ready.set()
        logger.info("worker %s ready for %d job(s)", self.worker_id, self.max_jobs)

    async def close(self) -> None:
        """Release the solver threads, the engine and the sandbox."""
        # Every job has ended by now (`_drain`), so this returns at once; waiting for the
        # threads keeps the parts from closing under a solver that is still running.
        await asyncio.to_thread(self._solvers.shutdown, wait=True)
        if self._parts is not None:
            await asyncio.to_thread(self._parts.close)
            self._parts = None

    async def run_once(self) -> bool:
        """Claim one job and work on it to its end; False when there was nothing to claim."""
        job = await self._claim()
        if job is None:
            return False
        await self._hold(job, self._new_hold(job.id))
        return True

    async def _listen(self, wake: Subscription) -> None:
        """Turn the jobs channel's wake-ups into the claim loop's."""
        while True:
            if await wake.wait(self.settings.worker.poll_s):
                self._changed.set()

    def _wake_threadsafe(self) -> None:
        if self._loop is None:
            return
        # A loop that already ended has no claim loop left to wake.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._changed.set)

    async def _claim_while_room(self) -> None:
        while len(self._held) < self.max_jobs and not self.stopping.is_set():
            job = await self._claim()
            if job is None:
                return
            self._start(job)

    def _start(self, job: Job) -> None:
        if job.id in self._held:
            # Our own lease had lapsed (a stalled heartbeat) and we claimed the job back: the
            # claim renewed the lease that the running hold goes on renewing.
            logger.warning("worker %s claimed job %s it already holds", self.worker_id, job.id)
            return
        # Counted as held at once, so the claim loop never claims past `max_jobs`.
        hold = self._new_hold(job.id)
        task = asyncio.create_task(self._hold(job, hold), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._changed.set()
        if not task.cancelled() and task.exception() is not None:
            # The job's lease lapses and it is claimed again; the worker goes on with the rest.
            logger.error("a held job stopped with an error", exc_info=task.exception())

    async def _drain(self) -> None:
        """Wait for every held job to end (a stopping worker hands each one back)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _claim(self) -> Job | None:
        lease_s = self.settings.worker.lease_s
        async with self.sessions() as session, session.begin():
            return await claim_next_job(session, self.worker_id, lease_s, utcnow())

    def _new_hold(self, job_id: str) -> _Hold:
        hold = self._held[job_id] = _Hold(job_id)
        if self.stopping.is_set():  # after the insert: a `stop()` meanwhile sees it or this
            hold.stop.request(StopReason.SHUTDOWN)
        return hold

    async def _hold(self, job: Job, hold: _Hold) -> None:
        """Hold the job from its claim to its end: its heartbeat, its solve, its slot."""
        heartbeat = asyncio.create_task(self._heartbeat(hold), name=f"heartbeat-{job.id}")
        try:
            await self._work(job, hold)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            del self._held[job.id]

    async def _work(self, job: Job, hold: _Hold) -> None:
        logger.info("worker %s took job %s", self.worker_id, job.id)
        try:
            spec = job_spec(job, self.settings)
            async with self.sessions() as session:
                point = await resume_point(session, job)
        except ValueError as exc:
            await self._fail(job.id, f"the stored job cannot run: {exc}")
            return
        if point.starts >= self.max_starts:
            await self._fail(job.id, f"started {point.starts} times and never finished")
            return
        await self._solve(spec, resume_from(job.id, point), hold)

    async def _solve(self, spec: SolveSpec, resume: Resume, hold: _Hold) -> None:
        assert self._parts is not None, "run() builds the parts first"
        recorder = JobRecorder(
            loop=asyncio.get_running_loop(),
            sessions=self.sessions,
            bus=self.bus,
            job_id=spec.job_id,
            worker_id=self.worker_id,
            lease_s=self.settings.worker.lease_s,
            stop=hold.stop,
        )
        run = functools.partial(
            _solve_seated,
            spec,
            self._parts.parts,
            sink=recorder,
            stop=hold.stop,
            resume=resume,
        )
        outcome = await asyncio.get_running_loop().run_in_executor(self._solvers, run)
        if outcome.status is not ABANDONED:
            return
        reason = hold.stop()
        logger.warning("worker %s let go of job %s: %s", self.worker_id, spec.job_id, reason)
        if reason is StopReason.SHUTDOWN:
            await self._hand_back(spec.job_id)

    async def _heartbeat(self, hold: _Hold) -> None:
        """Renew the lease every `heartbeat_s`, and at once when the job's channel wakes
        (a cancel request); a cancel flag on the row, or a lost lease, becomes the job's stop
        reason."""
        wake = await self.bus.subscribe(job_channel(hold.job_id))
        try:
            while True:
                await wake.wait(self.settings.worker.heartbeat_s)
                try:
                    job = await self._renew(hold.job_id)
                except LeaseLost:
                    hold.stop.request(StopReason.LEASE_LOST)
                    return
                except Exception:
                    # A database hiccup: keep trying until the lease itself lapses.
                    logger.exception("heartbeat of job %s failed", hold.job_id)
                    continue
                if job.cancel_requested:
                    hold.stop.request(StopReason.CANCEL)
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
            failed = await fail_held_job(session, job_id, self.worker_id, reason, now=utcnow())
        if failed is not None:
            await self.bus.publish(job_channel(job_id))
