"""Running a set of jobs on one engine, one after another or all at once, and timing them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sandbox.problem import Problem
from service.engine.types import AdapterRef, BatchSampler, Sample, Sampler, SampleRequest
from service.jobs.parts import seated_parts
from service.solver.attempts import AttemptRecord
from service.solver.budget import Budget
from service.solver.events import Event
from service.solver.loop import SolveOutcome, SolverParts, SolveSpec, solve
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.strategies import StrategyName


@dataclass
class JobClock:
    """A job's event times relative to the start of its run, and its attempts' code."""

    started_at: float
    first_event_s: float | None = None
    end_s: float | None = None
    codes: list[str] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
        elapsed_s: float,
    ) -> None:
        """The job's sink: when the first event came, when each phase began, and each
        attempt's whole response (to compare runs)."""
        now_s = time.perf_counter() - self.started_at
        if self.first_event_s is None:
            self.first_event_s = now_s
        if event.type != "attempt.finished":  # the round's phases; attempts are counted
            self.timeline.append((round(now_s, 2), event.type))
        if attempt is not None:
            self.codes.append(attempt.response)


@dataclass(frozen=True)
class JobResult:
    """One job of a run."""

    job_id: str
    attempts: int
    rounds: int
    first_event_s: float
    end_s: float
    codes: tuple[str, ...]
    phases: dict[str, float]
    timeline: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class RunResult:
    """A set of jobs run one way: wall time, attempts, rounds and each job."""

    wall_s: float
    jobs: tuple[JobResult, ...]

    @property
    def attempts(self) -> int:
        return sum(job.attempts for job in self.jobs)

    @property
    def attempts_per_s(self) -> float:
        return self.attempts / self.wall_s

    @property
    def rounds_per_min(self) -> float:
        return 60 * sum(job.rounds for job in self.jobs) / self.wall_s


@dataclass(frozen=True)
class JobPlan:
    """What every job of the set runs: one problem, strategy, budget and token limit."""

    problem: Problem
    strategy: StrategyName
    budget: Budget
    max_new_tokens: int

    def spec(self, index: int, tag: str) -> SolveSpec:
        request = SolveRequest(
            problem=self.problem,
            strategy=self.strategy,
            budget=self.budget,
            sampling=SamplingRequest(max_new_tokens=self.max_new_tokens),
            seed=index,
        )
        return SolveSpec(f"{tag}-{self.strategy}-{index}", request)


def run_jobs(
    plan: JobPlan, count: int, parts_for: Callable[[Sampler], SolverParts], sampler: Sampler,
    *, together: bool,
) -> RunResult:  # fmt: skip
    """`count` jobs (seeds 0..count-1) one after another, or all at once in threads."""
    tag = "together" if together else "alone"
    parts = parts_for(sampler)
    start = time.perf_counter()
    if together:
        with ThreadPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(_one, plan.spec(i, tag), parts, start) for i in range(count)]
            jobs = [future.result() for future in futures]
    else:
        jobs = [_one(plan.spec(i, tag), parts, start) for i in range(count)]
    return RunResult(time.perf_counter() - start, tuple(jobs))


def _one(spec: SolveSpec, parts: SolverParts, start: float) -> JobResult:
    clock = JobClock(start)
    with seated_parts(parts, spec.job_id) as own:
        outcome: SolveOutcome = solve(spec, own, sink=clock)
    if outcome.reason:
        raise RuntimeError(f"{spec.job_id} failed: {outcome.reason}")
    end = time.perf_counter() - start
    return JobResult(
        job_id=spec.job_id,
        attempts=outcome.attempts_used,
        rounds=outcome.rounds,
        first_event_s=clock.first_event_s or 0.0,
        end_s=end,
        codes=tuple(clock.codes),
        phases={
            "sampling": round(outcome.seconds.sampling, 2),
            "sandbox": round(outcome.seconds.sandbox, 2),
            "learning": round(outcome.seconds.learning, 2),
        },
        timeline=tuple(clock.timeline),
    )


@dataclass
class BatchLog:
    """A batch sampler that notes when each batch ran, how long, and for how many rows."""

    inner: BatchSampler
    started_at: float = field(default_factory=time.perf_counter)
    batches: list[dict[str, float]] = field(default_factory=list)

    def sample_many(self, requests: Sequence[SampleRequest]) -> list[list[Sample]]:
        """The inner sampler's batch, timed."""
        start = time.perf_counter()
        results = self.inner.sample_many(requests)
        self.batches.append(
            {
                "start_s": round(start - self.started_at, 2),
                "seconds": round(time.perf_counter() - start, 2),
                "requests": len(requests),
                "rows": sum(request.n for request in requests),
                "adapters": len({request.adapter for request in requests}),
            }
        )
        return results

    def publish(self, adapter: AdapterRef) -> None:
        """Passed on."""
        self.inner.publish(adapter)

    def release(self, job_id: str) -> None:
        """Passed on."""
        self.inner.release(job_id)


def same_attempts(first: RunResult, second: RunResult) -> list[bool]:
    """Per job (by seed), whether both runs made exactly the same attempts."""
    return [a.codes == b.codes for a, b in zip(first.jobs, second.jobs, strict=True)]


def jobs_json(run: RunResult) -> list[dict[str, object]]:
    """Each job's figures, rounded for the report."""
    return [
        {
            "job": job.job_id,
            "attempts": job.attempts,
            "rounds": job.rounds,
            "first_event_s": round(job.first_event_s, 3),
            "end_s": round(job.end_s, 2),
            "seconds": job.phases,
            "timeline": [list(entry) for entry in job.timeline],
        }
        for job in run.jobs
    ]
