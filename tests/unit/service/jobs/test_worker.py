"""The worker loop over a real SQLite store with the solver's fakes: a job's whole life,
hand-back and resume, cancel, a lost lease, a poison job and a failing engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandbox.problem import Problem
from service.bus import MemoryBus, job_channel
from service.config import Settings, WorkerSettings
from service.jobs.parts import WorkerParts
from service.jobs.worker import Worker
from service.solver.budget import Budget, BudgetLeft
from service.solver.events import JobStarted
from service.solver.loop import SolverParts
from service.store import NewJob, create_job, upgrade_to_head
from service.store.db import create_engine, make_sessionmaker
from service.store.events import append_event
from service.store.lifecycle import request_cancel
from service.store.models import Adapter, Attempt, Event, Job
from service.store.status import JobStatus, utcnow
from tests.unit.service.solver.fakes import (
    FakeJudge,
    FakeLearner,
    FakeSampler,
    FakeTokenizer,
    attempt_text,
)

T = TypeVar("T")
EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "sum_evens.json"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    made = Settings(
        data_dir=tmp_path,
        worker=WorkerSettings(lease_s=30.0, heartbeat_s=0.05, poll_s=0.05),
    )
    upgrade_to_head(made)
    return made


def run(settings: Settings, body: Callable[[Sessions, MemoryBus], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            return await body(make_sessionmaker(engine), MemoryBus())
        finally:
            await engine.dispose()

    return asyncio.run(main())


def passing_at(*ordinals: int) -> Callable[[int], str]:
    return lambda n: attempt_text(n, "PASS" if n in ordinals else "return 0")


def make_worker(
    settings: Settings, sessions: Sessions, bus: MemoryBus, sampler: FakeSampler, **kw: Any
) -> Worker:
    parts = SolverParts(sampler, FakeJudge(), FakeTokenizer(), kw.pop("learner", FakeLearner()))
    return Worker(settings, sessions, bus, lambda: WorkerParts(parts), **kw)


async def submit(sessions: Sessions, strategy: str = "sdpo") -> str:
    problem = Problem.model_validate(json.loads(EXAMPLE.read_text()))
    new = NewJob(problem=problem, budget=Budget(max_attempts=8, attempts_per_round=2))
    async with sessions() as session, session.begin():
        job = await create_job(session, new, now=utcnow())
        job.strategy = strategy
    return job.id


async def job_state(sessions: Sessions, job_id: str) -> tuple[Job, list[int], list[Event]]:
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        indices = list(
            (
                await session.scalars(
                    select(Attempt.index).where(Attempt.job_id == job_id).order_by(Attempt.index)
                )
            ).all()
        )
        events = list(
            (
                await session.scalars(
                    select(Event).where(Event.job_id == job_id).order_by(Event.seq)
                )
            ).all()
        )
    return job, indices, events


def on_loop(loop: asyncio.AbstractEventLoop, coro: Awaitable[Any]) -> Any:
    """Run `coro` on the worker's loop from the solver's thread, and wait for it."""
    return asyncio.run_coroutine_threadsafe(coro, loop).result()  # type: ignore[arg-type]


def test_a_job_is_solved_recorded_and_announced(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        worker = make_worker(settings, sessions, bus, FakeSampler(script=passing_at(5)))
        await worker.prepare()
        wake = await bus.subscribe(job_channel(job_id))
        assert await worker.run_once()
        assert await wake.wait(0)
        assert not await worker.run_once()  # nothing left to claim
        job, indices, events = await job_state(sessions, job_id)
        assert job.status is JobStatus.SUCCEEDED
        assert (job.discovery_index, job.attempts_used, job.rounds) == (5, 6, 3)
        assert job.solution is not None and "PASS" in job.solution
        assert job.lease_owner is None and job.finished_at is not None
        assert indices == list(range(6))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types[:3] == ["job.queued", "job.started", "round.started"]
        assert types[-1] == "job.succeeded"
        assert types.count("attempt.finished") == 6 and types.count("adapter.published") == 2
        async with sessions() as session:
            versions = (await session.scalars(select(Adapter.version))).all()
        assert sorted(versions) == [1, 2] and job.adapter_version == 2

    run(settings, body)


def test_a_stopping_worker_hands_the_job_back_and_another_resumes_it(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        first_sampler = FakeSampler()
        first = make_worker(settings, sessions, bus, first_sampler, worker_id="first")
        first_sampler.on_sample = lambda: first.stop() if len(first_sampler.calls) == 2 else None
        await first.prepare()
        await first.run_once()
        job, indices, _ = await job_state(sessions, job_id)
        assert job.status is JobStatus.QUEUED and job.lease_owner is None
        assert indices == [0, 1]  # round 1 was sampled but never recorded: it is redone

        learner = FakeLearner()
        second = make_worker(
            settings, sessions, bus, FakeSampler(script=passing_at(1)), learner=learner
        )
        await second.prepare()
        await second.run_once()
        job, indices, events = await job_state(sessions, job_id)
        assert job.status is JobStatus.SUCCEEDED
        assert indices == [0, 1, 2, 3] and job.discovery_index == 3
        started = [e.payload for e in events if e.type == "job.started"]
        assert [s["resumed"] for s in started] == [False, True]
        assert learner.calls[0] == "restore"  # from the adapter the first worker published

    run(settings, body)


def test_cancel_requested_mid_round_ends_the_job_cancelled(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        loop = asyncio.get_running_loop()
        sampler = FakeSampler()
        worker = make_worker(settings, sessions, bus, sampler)

        async def cancel() -> None:
            async with sessions() as session, session.begin():
                await request_cancel(session, job_id, now=utcnow())
            await bus.publish(job_channel(job_id))

        def cancel_and_wait_for_the_worker() -> None:
            if len(sampler.calls) < 2:
                return
            on_loop(loop, cancel())
            deadline = time.monotonic() + 30
            while not (worker.current and worker.current.cancel()):
                assert time.monotonic() < deadline, "the heartbeat never saw the cancel"
                time.sleep(0.01)

        sampler.on_sample = cancel_and_wait_for_the_worker
        await worker.prepare()
        await worker.run_once()
        job, indices, events = await job_state(sessions, job_id)
        assert job.status is JobStatus.CANCELLED and job.cancel_requested
        assert indices == [0, 1]
        assert events[-1].type == "job.cancelled"

    run(settings, body)


def test_a_worker_that_lost_its_lease_writes_nothing_more(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        loop = asyncio.get_running_loop()
        sampler = FakeSampler()
        worker = make_worker(settings, sessions, bus, sampler)

        async def steal() -> None:
            async with sessions() as session, session.begin():
                await session.execute(
                    update(Job).where(Job.id == job_id).values(lease_owner="thief")
                )

        sampler.on_sample = lambda: on_loop(loop, steal()) if len(sampler.calls) == 2 else None
        await worker.prepare()
        await worker.run_once()
        job, indices, events = await job_state(sessions, job_id)
        assert job.status is JobStatus.RUNNING and job.lease_owner == "thief"
        assert indices == [0, 1]
        assert events[-1].type == "round.started"  # the round the theft interrupted

    run(settings, body)


def test_a_job_started_too_often_fails_with_its_reason(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        left = BudgetLeft(attempts=8, seconds=3600.0)
        async with sessions() as session, session.begin():
            for _ in range(3):
                started = JobStarted(attempts_used=0, budget_left=left, strategy="sdpo")
                await append_event(session, job_id, started, now=utcnow())
        worker = make_worker(settings, sessions, bus, FakeSampler(), max_starts=3)
        await worker.prepare()
        await worker.run_once()
        job, _, events = await job_state(sessions, job_id)
        assert job.status is JobStatus.FAILED
        assert job.failure_reason is not None and "started 3 times" in job.failure_reason
        assert events[-1].type == "job.failed"

    run(settings, body)


def test_an_unknown_strategy_and_an_engine_error_fail_the_job(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        unknown = await submit(sessions, strategy="guessing")
        sampler = FakeSampler()
        worker = make_worker(settings, sessions, bus, sampler)
        await worker.prepare()
        await worker.run_once()
        job, _, _ = await job_state(sessions, unknown)
        assert job.status is JobStatus.FAILED
        assert "unknown strategy" in (job.failure_reason or "")

        broken = await submit(sessions)

        def explode() -> None:
            raise RuntimeError("out of GPU memory")

        sampler.on_sample = explode
        await worker.run_once()
        job, _, events = await job_state(sessions, broken)
        assert job.status is JobStatus.FAILED
        assert job.failure_reason == "RuntimeError: out of GPU memory"
        assert events[-1].payload["reason"] == job.failure_reason

    run(settings, body)
