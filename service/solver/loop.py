"""The controller loop (docs/algorithm.md §5): rounds until a confirmed pass,
the end of the budget, a stop (`stop.py`), or an error of ours.

One round: sample → judge the public tests (concurrently, order kept) → confirm a public pass
on the hidden tests and re-run it → record each attempt in index order → let the strategy
learn. Attempt indices count from 0 across rounds; the discovery index is the index of the
first confirmed pass, and attempts after it in the same round are discarded unrecorded (the
paper's k = G·step + position). The stop check is asked before sampling, judging and
learning: a cancel ends the job `cancelled`; a lost lease or a worker shutting down ends the
solve "abandoned", with no ending written. A round that spends the last attempt is not learned
from: no round would sample the new adapter. The loop persists nothing itself: each event goes
to the job's sink (`sink.py`) with the attempt or adapter it reports, before the next phase.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace

from service.engine.types import AdapterRef, Learner, Sample, Sampler
from service.solver.attempts import Attempt, AttemptRecord, Judge, judge_public
from service.solver.attempts import settle as settle_attempt
from service.solver.budget import BudgetUse, Clock

# Re-exported: a solve's outcome is read beside `solve`, though the endings live in `endings`.
from service.solver.endings import OutcomeStatus as OutcomeStatus
from service.solver.events import (
    AdapterPublished,
    AttemptFinished,
    Event,
    JobCancelled,
    JobExhausted,
    JobFailed,
    JobStarted,
    JobSucceeded,
    LearnerStep,
    PhaseSplit,
    RoundStarted,
    Stamp,
)
from service.solver.phases import PhaseSeconds, PhaseTimer
from service.solver.prompts import ChatTokenizer
from service.solver.sink import JobSink

# Re-exported: a solve's spec is built beside `solve`, though it lives in `spec`.
from service.solver.spec import SolveSpec as SolveSpec
from service.solver.stop import (
    ABANDONED,
    Abandoned,
    StopCheck,
    Stopped,
    StopReason,
    never_stopped,
)
from service.solver.strategies import Learned, Resume, StrategyContext, make_strategy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolverParts:
    """The engine and sandbox a solve runs on; `learner` is needed by `sdpo` only."""

    sampler: Sampler
    judge: Judge
    tokenizer: ChatTokenizer
    learner: Learner | None = None


@dataclass(frozen=True)
class SolveOutcome:
    """How a solve ended: a job's ending, or "abandoned" (stopped with no ending written)."""

    status: OutcomeStatus | Abandoned
    attempts_used: int
    rounds: int
    discovery_index: int | None
    solution: str | None
    adapter: AdapterRef | None
    seconds: PhaseSeconds
    reason: str | None = None


def solve(
    spec: SolveSpec,
    parts: SolverParts,
    *,
    sink: JobSink,
    stop: StopCheck = never_stopped,
    resume: Resume | None = None,
    clock: Clock = time.monotonic,
) -> SolveOutcome:
    """Run one job to its end and commit its events; never raises for the job's own errors.

    `stop` says why the job must stop, if it must; the sink may raise `Stopped` too.
    """
    return _Run(spec, parts, sink, stop, resume or Resume(), clock).run()


def round_seed(seed: int, round_index: int) -> int:
    """A distinct, reproducible sampling seed per round (a fixed seed would repeat rounds)."""
    return (seed * 1_000_003 + round_index) % 2**31


class _Run:
    """The state of one solve; each method is one phase."""

    def __init__(
        self,
        spec: SolveSpec,
        parts: SolverParts,
        sink: JobSink,
        stop: StopCheck,
        resume: Resume,
        clock: Clock,
    ) -> None:
        self.spec, self.parts, self.sink = spec, parts, sink
        self.stop, self.resume = stop, resume
        self.timer = PhaseTimer(clock)
        self.use = BudgetUse(
            spec.budget,
            clock,
            attempts_used=resume.start_attempt,
            rounds=resume.start_round,
            prior_seconds=resume.elapsed_seconds,
        )
        self.adapter = resume.adapter
        self._stamped_seconds = resume.elapsed_seconds
        context = StrategyContext(spec, parts.tokenizer, parts.sampler)
        self.strategy = make_strategy(spec.strategy, context, parts.learner)

    def run(self) -> SolveOutcome:
        try:
            return self._ended()
        except Stopped as stopped:
            # Lease lost or the worker shutting down, here or while writing the ending: the
            # job is let go unended, and whoever holds it next resumes it.
            logger.info("job %s stopped: %s", self.spec.job_id, stopped.reason.value)
            return self._outcome(ABANDONED)
        finally:
            self._close()

    def _ended(self) -> SolveOutcome:
        """The rounds and the job's ending; a `Stopped` other than a cancel passes through."""
        try:
            with ThreadPoolExecutor(max(self.spec.worker.judge_workers, 1)) as pool:
                return self._rounds(pool)
        except Stopped as stopped:
            if stopped.reason is not StopReason.CANCEL:
                raise
            return self._end(OutcomeStatus.CANCELLED)
        except Exception as exc:
            logger.exception("job %s failed", self.spec.job_id, extra={"job_id": self.spec.job_id})
            return self._end(OutcomeStatus.FAILED, reason=f"{type(exc).__name__}: {exc}")

    def _rounds(self, pool: Executor) -> SolveOutcome:
        resumed = self.resume.start_attempt > 0 or self.resume.adapter is not None
        self._commit(JobStarted(**self._stamp(), strategy=self.spec.strategy, resumed=resumed))
        with self.timer.phase("learning"):
            self.strategy.start(self.resume)
        while not self.use.exhausted():
            success = self._round(pool)
            if success is not None:
                return self._end(OutcomeStatus.SUCCEEDED, success=success)
        return self._end(OutcomeStatus.EXHAUSTED)

    def _round(self, pool: Executor) -> AttemptRecord | None:
        self._check_stop()
        round_index = self.use.start_round()
        size = self.use.next_round_size()
        self._commit(RoundStarted(**self._stamp(), round=round_index, attempts=size))
        samples = self._sample(round_index, size)
        self._check_stop()
        with self.timer.phase("sandbox"):
            public = judge_public(self.parts.judge, self.spec.problem, samples, pool)
        first = self.use.attempts_used
        judged = [
            Attempt(first + i, round_index, sample, result)
            for i, (sample, result) in enumerate(zip(samples, public, strict=True))
        ]
        records = self._settle(judged)
        if records[-1].succeeded:
            return records[-1]
        if not self.use.exhausted():
            self._check_stop()
            self._learn(round_index, samples, records)
        return None

    def _sample(self, round_index: int, size: int) -> list[Sample]:
        params = replace(
            self.spec.sampling,
            seed=round_seed(self.spec.seed, round_index),
            interrupt=self._stop_requested,
        )
        prompt = self.strategy.prompt_ids()
        with self.timer.phase("sampling"):
            samples = self.parts.sampler.sample(prompt, size, params, self.strategy.adapter())
        if len(samples) != size:
            raise RuntimeError(f"the sampler returned {len(samples)} samples, not {size}")
        return samples

    def _settle(self, judged: Sequence[Attempt]) -> list[AttemptRecord]:
        """Records in index order, up to and including the first confirmed pass."""
        records: list[AttemptRecord] = []
        for attempt in judged:
            with self.timer.phase("sandbox"):
                record = settle_attempt(self.parts.judge, self.spec.problem, attempt)
            self.use.spend(1)
            finished = AttemptFinished(
                **self._stamp(),
                index=record.index,
                verdict=record.verdict,
                passed=record.passed,
                total=record.total,
                truncated=record.truncated,
            )
            self._commit(finished, attempt=record)
            records.append(record)
            if record.succeeded:
                break
        return records

    def _learn(
        self, round_index: int, samples: Sequence[Sample], records: Sequence[AttemptRecord]
    ) -> None:
        with self.timer.phase("learning"):
            learned = self.strategy.after_round(round_index, samples, records)
        if learned is not None:
            self._publish(round_index, learned)

    def _publish(self, round_index: int, learned: Learned) -> None:
        metrics = learned.metrics
        self._commit(
            LearnerStep(
                **self._stamp(),
                round=round_index,
                loss=metrics.loss,
                kl=metrics.kl,
                grad_norm=metrics.grad_norm,
                seconds=metrics.seconds,
            )
        )
        self.adapter = learned.adapter
        published = AdapterPublished(**self._stamp(), version=learned.adapter.version)
        self._commit(published, adapter=learned.adapter)

    def _check_stop(self) -> None:
        reason = self.stop()
        if reason is not None:
            raise Stopped(reason)

    def _stop_requested(self) -> bool:
        """The sampler's plain "should I stop" (`SamplingParams.interrupt`)."""
        return self.stop() is not None

    def _end(
        self,
        status: OutcomeStatus,
        *,
        success: AttemptRecord | None = None,
        reason: str | None = None,
    ) -> SolveOutcome:
        split = self.timer.split()
        ending = {**self._stamp(), "seconds": PhaseSplit(**dataclasses.asdict(split))}
        solution = None
        if success is not None:
            solution = success.code or success.response
            self._commit(JobSucceeded(**ending, attempt=success.index, solution=solution))
        elif status is OutcomeStatus.FAILED:
            self._commit(JobFailed(**ending, reason=reason or "unknown error"))
        elif status is OutcomeStatus.EXHAUSTED:
            self._commit(JobExhausted(**ending))
        else:
            self._commit(JobCancelled(**ending))
        return self._outcome(status, split, success=success, solution=solution, reason=reason)

    def _outcome(
        self,
        status: OutcomeStatus | Abandoned,
        split: PhaseSeconds | None = None,
        *,
        success: AttemptRecord | None = None,
        solution: str | None = None,
        reason: str | None = None,
    ) -> SolveOutcome:
        return SolveOutcome(
            status=status,
            attempts_used=self.use.attempts_used,
            rounds=self.use.rounds,
            discovery_index=None if success is None else success.index,
            solution=solution,
            adapter=self.adapter,
            seconds=split or self.timer.split(),
            reason=reason,
        )

    def _stamp(self) -> Stamp:
        # Every event is stamped just before it is emitted: the seconds `_commit` records are
        # the ones this stamp's `budget_left` was computed from.
        self._stamped_seconds = self.use.elapsed_seconds
        left = self.use.left_at(self._stamped_seconds)
        return Stamp(attempts_used=self.use.attempts_used, budget_left=left)

    def _commit(
        self,
        event: Event,
        *,
        attempt: AttemptRecord | None = None,
        adapter: AdapterRef | None = None,
    ) -> None:
        self.sink.commit(event, attempt=attempt, adapter=adapter, elapsed_s=self._stamped_seconds)

    def _close(self) -> None:
        try:
            self.strategy.close()
        except Exception:
            # The outcome is already decided; a failed release must not hide it.
            logger.exception("releasing job %s failed", self.spec.job_id)
