"""The worker loop over a real SQLite store with the solver's fakes: a job's whole life,
hand-back and resume, cancel, a lost lease, a poison job and a failing engine; then several
jobs on one worker (`max_jobs`): at once, each with its own cancel, all handed back on stop,
one at a time with `max_jobs=1`, and a job with long rounds beside a short one.

Waits inside a solver thread are bounded (`WAIT_S`) and raise, so a worker that does not run
the jobs together fails the job (and the test) instead of hanging it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandbox.problem import Problem
from service.bus import MemoryBus, job_channel
from service.config import SdpoParams, Settings, WorkerSettings
from service.engine.types import (
    AdapterRef,
    DistillationBatch,
    Sample,
    Sampler,
    SamplingParams,
    StepMetrics,
)
from service.jobs.parts import WorkerParts
from service.jobs.worker import Worker
from service.solver.budget import Budget, BudgetLeft
from service.solver.events import JobStarted
from service.solver.loop import SolverParts
from service.solver.request import SolveRequest
from service.solver.stop import StopReason
from service.store import NewJob, create_job, upgrade_to_head
from service.store.db import create_engine, make_sessionmaker
from service.store.events import append_event
from service.store.jobs import request_cancel
from service.store.models import Adapter, Attempt, Event, Job
from service.store.status import TERMINAL, JobStatus, utcnow
from tests.unit.service.solver.fakes import (
    FakeJudge,
    FakeLearner,
    FakeSampler,
    FakeTokenizer,
    attempt_text,
    decode,
)

T = TypeVar("T")
EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "sum_evens.json"
Sessions = async_sessionmaker[AsyncSession]
WAIT_S = 30.0  # a bound on every wait; never reached unless the worker is wrong


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
    settings: Settings, sessions: Sessions, bus: MemoryBus, sampler: Sampler, **kw: Any
) -> Worker:
    parts = SolverParts(sampler, FakeJudge(), FakeTokenizer(), kw.pop("learner", FakeLearner()))
    return Worker(settings, sessions, bus, lambda: WorkerParts(parts), **kw)


async def submit(
    sessions: Sessions, strategy: str = "sdpo", *, tag: str = "", max_attempts: int = 8
) -> str:
    """Queue the example; `tag` goes into its statement, so a `JobsSampler` knows the job."""
    raw = json.loads(EXAMPLE.read_text())
    raw["statement"] += tag
    problem = Problem.model_validate(raw)
    budget = Budget(max_attempts=max_attempts, attempts_per_round=2)
    new = NewJob(SolveRequest(problem=problem, budget=budget))
    async with sessions() as session, session.begin():
        job = await create_job(session, new, now=utcnow())
        job.request = {**job.request, "strategy": strategy}  # any name, as a stored row may hold
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


def cancel_seen(worker: Worker, job_id: str) -> bool:
    """Whether the worker turned the job's cancel request into its solver's cancel flag."""
    hold = worker.held.get(job_id)
    return hold is not None and hold.stop() is StopReason.CANCEL


def wait_for_cancel_seen(worker: Worker, job_id: str) -> None:
    """From the solver's thread: until the heartbeat has set the job's cancel flag (the flag
    offers no wait of its own, so this looks every 10 ms, for `WAIT_S` at most)."""
    deadline = time.monotonic() + WAIT_S
    while not cancel_seen(worker, job_id):
        assert time.monotonic() < deadline, "the heartbeat never saw the cancel"
        time.sleep(0.01)


async def request_cancel_of(sessions: Sessions, bus: MemoryBus, job_id: str) -> None:
    """What `POST /jobs/{id}/cancel` does: flag the row, wake the job's channel."""
    async with sessions() as session, session.begin():
        await request_cancel(session, job_id, now=utcnow())
    await bus.publish(job_channel(job_id))


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


async def stop_after_first_round(settings: Settings, sessions: Sessions, bus: MemoryBus) -> None:
    """A worker that stops while sampling its job's second round, so the job goes back."""
    sampler = FakeSampler()
    worker = make_worker(settings, sessions, bus, sampler, worker_id="first")
    sampler.on_sample = lambda: worker.stop() if len(sampler.calls) == 2 else None
    await worker.prepare()
    await worker.run_once()


def test_a_stopping_worker_hands_the_job_back_and_another_resumes_it(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        await stop_after_first_round(settings, sessions, bus)
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


def test_a_resumed_job_starts_its_clock_from_the_seconds_its_row_recorded(
    settings: Settings,
) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        await stop_after_first_round(settings, sessions, bus)
        job, _, events = await job_state(sessions, job_id)
        spent = job.elapsed_seconds
        # Written with each event: the newest event's stamp says the same seconds were left.
        assert 0.0 < spent == pytest.approx(3600.0 - events[-1].payload["budget_left"]["seconds"])

        # Say the first worker had spent all but 5 s: the next run carries that, not its own.
        async with sessions() as session, session.begin():
            await session.execute(
                update(Job).where(Job.id == job_id).values(elapsed_seconds=3595.0)
            )
        second = make_worker(settings, sessions, bus, FakeSampler())
        await second.prepare()
        await second.run_once()
        job, _, events = await job_state(sessions, job_id)
        resumed = next(e for e in events if e.type == "job.started" and e.payload["resumed"])
        assert resumed.payload["budget_left"]["seconds"] <= 5.0
        assert job.elapsed_seconds >= 3595.0 and job.status is JobStatus.EXHAUSTED

    run(settings, body)


def test_cancel_requested_mid_round_ends_the_job_cancelled(settings: Settings) -> None:
    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        job_id = await submit(sessions)
        loop = asyncio.get_running_loop()
        sampler = FakeSampler()
        worker = make_worker(settings, sessions, bus, sampler)

        def cancel_and_wait_for_the_worker() -> None:
            if len(sampler.calls) < 2:
                return
            on_loop(loop, request_cancel_of(sessions, bus, job_id))
            wait_for_cancel_seen(worker, job_id)

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
        assert "the stored job cannot run" in (job.failure_reason or "")
        assert "strategy" in (job.failure_reason or "")

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


# --- several jobs on one worker ---------------------------------------------------------------


def holding(settings: Settings, max_jobs: int) -> Settings:
    """`settings` for a worker that holds up to `max_jobs` jobs."""
    worker = settings.worker.model_copy(update={"max_jobs": max_jobs})
    return settings.model_copy(update={"worker": worker})


def tag(name: str) -> str:
    return f" <job {name}>"


@dataclass
class JobsSampler:
    """The one sampler a worker shares among its jobs, with one `FakeSampler` per job behind
    it, picked by the job's tag in the prompt: each job keeps its own script, ordinals and
    hook whatever the other jobs draw meanwhile."""

    by_tag: Mapping[str, FakeSampler]
    published: list[AdapterRef] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        text = decode(prompt_ids)
        owners = [sampler for name, sampler in self.by_tag.items() if name in text]
        assert len(owners) == 1, f"no single job's tag in the prompt: {text[:200]!r}"
        return owners[0].sample(prompt_ids, n, params, adapter)

    def publish(self, adapter: AdapterRef) -> None:
        self.published.append(adapter)

    def release(self, job_id: str) -> None:
        self.released.append(job_id)


class JobsLearner:
    """One `FakeLearner` per job, so adapter versions count per job as the real learner's do."""

    def __init__(self) -> None:
        self.by_job: defaultdict[str, FakeLearner] = defaultdict(FakeLearner)

    def create(self, job_id: str, *, seed: int, sdpo: SdpoParams | None = None) -> None:
        self.by_job[job_id].create(job_id, seed=seed, sdpo=sdpo)

    def step(self, job_id: str, batch: DistillationBatch) -> StepMetrics:
        return self.by_job[job_id].step(job_id, batch)

    def checkpoint(self, job_id: str) -> AdapterRef:
        return self.by_job[job_id].checkpoint(job_id)

    def restore(
        self, ref: AdapterRef, *, seed: int = 0, sdpo: SdpoParams | None = None
    ) -> AdapterRef | None:
        return self.by_job[ref.job_id].restore(ref, seed=seed, sdpo=sdpo)

    def delete(self, job_id: str) -> None:
        self.by_job[job_id].delete(job_id)


def jobs_worker(
    settings: Settings,
    sessions: Sessions,
    bus: MemoryBus,
    by_tag: Mapping[str, FakeSampler],
    **kw: Any,
) -> Worker:
    kw.setdefault("learner", JobsLearner())
    return make_worker(settings, sessions, bus, JobsSampler(by_tag), **kw)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    """`worker.run()` in the background; stopped, and waited for, on the way out."""
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await asyncio.wait_for(task, WAIT_S)


async def until_finished(sessions: Sessions, bus: MemoryBus, job_id: str) -> Job:
    """The job once it has ended, woken by its channel; fails after `WAIT_S`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    wake = await bus.subscribe(job_channel(job_id))  # before reading: no wake-up is missed
    try:
        while True:
            async with sessions() as session:
                job = await session.get(Job, job_id)
            assert job is not None
            if job.status in TERMINAL:
                return job
            left = deadline - loop.time()
            assert left > 0, f"job {job_id} did not end in {WAIT_S} s ({job.status})"
            await wake.wait(left)
    finally:
        await wake.close()


def wait_for(event: threading.Event, what: str) -> None:
    """From a solver's thread: until `event`, or fail the job saying `what` never happened."""
    if not event.wait(WAIT_S):
        raise AssertionError(f"{what} never happened")


def first_call(sampler: FakeSampler, hook: Callable[[], None]) -> Callable[[], None]:
    """An `on_sample` that runs `hook` in the job's first round only."""
    return lambda: hook() if len(sampler.calls) == 1 else None


def test_two_jobs_are_solved_at_once_and_a_third_waits_for_a_free_slot(
    settings: Settings,
) -> None:
    settings = holding(settings, 2)

    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        # One thread in asyncio's default executor: two solvers queued there could never
        # meet below, so this also proves the worker runs them on threads of its own.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        ids = {name: await submit(sessions, tag=tag(name)) for name in "ABC"}
        samplers = {tag(name): FakeSampler(script=passing_at(1)) for name in "ABC"}
        worker = jobs_worker(settings, sessions, bus, samplers)
        held_at_meeting: list[set[str]] = []
        held_seen: list[int] = []
        threads: set[str] = set()
        # Passed only while A and B are both inside `sample`, each on its own thread.
        both_sampling = threading.Barrier(
            2, action=lambda: held_at_meeting.append(set(worker.held_job_ids())), timeout=WAIT_S
        )

        def meet() -> None:
            threads.add(threading.current_thread().name)
            held_seen.append(len(worker.held_job_ids()))
            both_sampling.wait()

        for name in "AB":
            samplers[tag(name)].on_sample = meet
        samplers[tag("C")].on_sample = lambda: held_seen.append(len(worker.held_job_ids()))
        async with running(worker):
            jobs = [await until_finished(sessions, bus, ids[name]) for name in "ABC"]
        assert [job.status for job in jobs] == [JobStatus.SUCCEEDED] * 3, [
            job.failure_reason for job in jobs
        ]
        assert held_at_meeting == [{ids["A"], ids["B"]}] and not both_sampling.broken
        assert max(held_seen) == 2  # never more than max_jobs held
        assert len(threads) == 2 and all(t.startswith(f"solve-{worker.worker_id}") for t in threads)
        with pytest.raises(TypeError):
            worker.held["x"] = None  # type: ignore[index]  # a read-only view
        assert worker.held_job_ids() == ()
        alive = [t.name for t in threading.enumerate()]
        assert not [name for name in alive if name.startswith(f"solve-{worker.worker_id}")]

    run(settings, body)


def test_cancelling_one_job_leaves_the_other_running_to_its_end(settings: Settings) -> None:
    settings = holding(settings, 2)

    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        loop = asyncio.get_running_loop()
        cancelled = await submit(sessions, tag=tag("A"))
        other = await submit(sessions, tag=tag("B"))
        sampler_a, sampler_b = FakeSampler(), FakeSampler(script=passing_at(3))
        worker = jobs_worker(settings, sessions, bus, {tag("A"): sampler_a, tag("B"): sampler_b})
        both_sampling = threading.Barrier(2, timeout=WAIT_S)
        a_ended = threading.Event()
        b_cancel_flag: list[bool] = []

        def cancel_a() -> None:
            both_sampling.wait()
            on_loop(loop, request_cancel_of(sessions, bus, cancelled))
            wait_for_cancel_seen(worker, cancelled)
            b_cancel_flag.append(cancel_seen(worker, other))

        def b_waits_for_a() -> None:
            both_sampling.wait()
            wait_for(a_ended, "the cancelled job's end")  # B is mid-round all that time

        sampler_a.on_sample = first_call(sampler_a, cancel_a)
        sampler_b.on_sample = first_call(sampler_b, b_waits_for_a)
        async with running(worker):
            job_a = await until_finished(sessions, bus, cancelled)
            a_ended.set()
            job_b = await until_finished(sessions, bus, other)
        assert job_a.status is JobStatus.CANCELLED and job_a.attempts_used == 0
        assert b_cancel_flag == [False]  # A's cancel reached A alone
        job_b, indices, events = await job_state(sessions, other)
        assert job_b.status is JobStatus.SUCCEEDED, job_b.failure_reason
        assert indices == [0, 1, 2, 3] and job_b.discovery_index == 3
        assert not job_b.cancel_requested and "job.cancelled" not in [e.type for e in events]

    run(settings, body)


def test_a_graceful_stop_hands_every_held_job_back_and_another_worker_resumes_them(
    settings: Settings,
) -> None:
    settings = holding(settings, 2)

    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        ids = [await submit(sessions, tag=tag(name)) for name in "AB"]
        samplers = {tag(name): FakeSampler() for name in "AB"}
        first = jobs_worker(settings, sessions, bus, samplers, worker_id="first")
        # Both jobs have recorded round 0 and are sampling round 1 when the stop comes.
        mid_round_1 = threading.Barrier(2, action=first.stop, timeout=WAIT_S)
        for sampler in samplers.values():
            sampler.on_sample = lambda s=sampler: mid_round_1.wait() if len(s.calls) == 2 else None
        await asyncio.wait_for(first.run(), WAIT_S)
        assert not mid_round_1.broken
        for job_id in ids:
            job, indices, _ = await job_state(sessions, job_id)
            assert job.status is JobStatus.QUEUED and job.lease_owner is None
            assert indices == [0, 1]  # round 1 was sampled but never recorded: it is redone

        learner = JobsLearner()
        resumed = {tag(name): FakeSampler(script=passing_at(1)) for name in "AB"}
        second = jobs_worker(settings, sessions, bus, resumed, learner=learner)
        async with running(second):
            for job_id in ids:
                await until_finished(sessions, bus, job_id)
        for job_id in ids:
            job, indices, events = await job_state(sessions, job_id)
            assert job.status is JobStatus.SUCCEEDED, job.failure_reason
            assert indices == [0, 1, 2, 3] and job.discovery_index == 3
            started = [e.payload for e in events if e.type == "job.started"]
            assert [s["resumed"] for s in started] == [False, True]
            assert learner.by_job[job_id].calls[0] == "restore"

    run(settings, body)


def test_with_max_jobs_1_a_worker_holds_one_job_at_a_time(settings: Settings) -> None:
    assert settings.worker.max_jobs == 1  # the default

    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        ids = {name: await submit(sessions, tag=tag(name)) for name in "AB"}
        samplers = {tag(name): FakeSampler(script=passing_at(3)) for name in "AB"}
        worker = jobs_worker(settings, sessions, bus, samplers)
        seen: list[tuple[str, tuple[str, ...], str]] = []
        for name in "AB":
            samplers[tag(name)].on_sample = lambda name=name: seen.append(
                (name, worker.held_job_ids(), threading.current_thread().name)
            )
        async with running(worker):
            jobs = [await until_finished(sessions, bus, ids[name]) for name in "AB"]
        assert [job.status for job in jobs] == [JobStatus.SUCCEEDED] * 2
        # A from its first round to its last, then B: never both.
        assert [(name, held) for name, held, _ in seen] == [("A", (ids["A"],))] * 2 + [
            ("B", (ids["B"],))
        ] * 2
        assert len({thread for _, _, thread in seen}) == 1  # a pool of max_jobs threads
        assert jobs[0].finished_at is not None and jobs[1].started_at is not None
        assert jobs[0].finished_at <= jobs[1].started_at

    run(settings, body)


def test_a_job_with_long_rounds_does_not_hold_up_a_short_one(settings: Settings) -> None:
    settings = holding(settings, 2)

    async def body(sessions: Sessions, bus: MemoryBus) -> None:
        # The long job is queued first, so it is claimed first.
        long_id = await submit(sessions, tag=tag("long"))
        short_id = await submit(sessions, tag=tag("short"))
        long_sampler, short_sampler = FakeSampler(), FakeSampler(script=passing_at(5))
        worker = jobs_worker(
            settings, sessions, bus, {tag("long"): long_sampler, tag("short"): short_sampler}
        )
        short_ended, long_sampling = threading.Event(), threading.Event()

        def long_first_round() -> None:
            long_sampling.set()
            wait_for(short_ended, "the short job's end")

        # The long job's first round lasts until the short job has run all of its rounds; the
        # short job starts sampling only once the long one is inside its first round, so the
        # two are in flight together whichever thread the scheduler runs first.
        long_sampler.on_sample = first_call(long_sampler, long_first_round)
        short_sampler.on_sample = first_call(
            short_sampler, lambda: wait_for(long_sampling, "the long job's first round")
        )
        async with running(worker):
            short = await until_finished(sessions, bus, short_id)
            long_calls_meanwhile = len(long_sampler.calls)
            short_ended.set()
            long = await until_finished(sessions, bus, long_id)
        assert short.status is JobStatus.SUCCEEDED and short.rounds == 3
        assert long_calls_meanwhile == 1  # the long job was still in its first round
        assert long.status is JobStatus.EXHAUSTED, long.failure_reason
        assert long.attempts_used == 8
        assert short.finished_at is not None and long.finished_at is not None
        assert short.finished_at <= long.finished_at

    run(settings, body)
