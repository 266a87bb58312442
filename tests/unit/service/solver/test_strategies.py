"""The controller loop and its three strategies, on fakes (see fakes.py for the judge's rules)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from sandbox.problem import Problem
from sandbox.results import Verdict
from service.config import SdpoParams
from service.solver.attempts import Confirmation
from service.solver.budget import Budget
from service.solver.events import (
    TERMINAL_TYPES,
    AdapterPublished,
    AttemptFinished,
    JobStarted,
    JobSucceeded,
    RoundStarted,
)
from service.solver.feedback import TRUNCATED_MESSAGE
from service.solver.loop import (
    OutcomeStatus,
    SolveOutcome,
    SolverParts,
    SolveSpec,
    round_seed,
    solve,
)
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink
from service.solver.spec import SolverSettings
from service.solver.stop import ABANDONED, JobStop, Stopped, StopReason
from service.solver.strategies import Resume, make_strategy
from tests.unit.service.solver.fakes import (
    SECRET,
    FakeClock,
    FakeJudge,
    FakeLearner,
    FakeSampler,
    FakeTokenizer,
    attempt_text,
    decode,
    make_ref,
)

PROBLEM = Problem.model_validate(
    {
        "title": "add",
        "statement": "Return the sum of a and b.",
        "tests": {
            "kind": "functional",
            "entry_point": "add",
            "public": [{"args": [1, 2], "expected": 3}],
            "hidden": [{"args": [5, 5], "expected": 10}],
        },
    }
)


@dataclass
class Harness:
    """A solve on fakes; `run` returns the outcome and keeps its commits in `sink`."""

    sampler: FakeSampler = field(default_factory=FakeSampler)
    judge: FakeJudge = field(default_factory=FakeJudge)
    learner: FakeLearner = field(default_factory=FakeLearner)
    sink: MemorySink = field(default_factory=MemorySink)
    clock: FakeClock = field(default_factory=FakeClock)

    def run(
        self,
        strategy="sdpo",
        *,
        max_attempts=8,
        per_round=4,
        max_seconds=3600.0,
        prompt_max_tokens=3584,
        sdpo=None,
        **solve_options,
    ) -> SolveOutcome:
        budget = Budget(
            max_attempts=max_attempts, attempts_per_round=per_round, max_seconds=max_seconds
        )
        request = SolveRequest(
            problem=PROBLEM,
            strategy=strategy,
            budget=budget,
            sampling=SamplingRequest(max_new_tokens=64),
            sdpo=SdpoParams.model_validate(sdpo or {}),
            seed=7,
        )
        spec = SolveSpec("job-1", request, SolverSettings(prompt_max_tokens=prompt_max_tokens))
        parts = SolverParts(self.sampler, self.judge, FakeTokenizer(), self.learner)
        return solve(
            spec,
            parts,
            sink=self.sink,
            clock=self.clock,
            **solve_options,
        )

    def indices(self) -> list[int]:
        return [record.index for record in self.sink.attempts]


def passing_at(*ordinals: int, tag: str = "PASS"):
    """A script whose samples at `ordinals` pass (with `tag` deciding how far)."""
    return lambda n: attempt_text(n, tag) if n in ordinals else attempt_text(n)


def test_budget_ends_exactly_at_max_attempts_with_a_partial_last_round():
    harness = Harness()
    outcome = harness.run(max_attempts=10, per_round=4)
    assert outcome.status is OutcomeStatus.EXHAUSTED
    assert [call.n for call in harness.sampler.calls] == [4, 4, 2]
    assert outcome.attempts_used == 10 and outcome.rounds == 3
    assert harness.indices() == list(range(10))
    # The last round is not learned from: no round would sample the new adapter.
    assert harness.learner.calls.count("step") == 2
    assert harness.sink.types()[-1] == "job.exhausted"


def test_success_stops_at_once_and_reports_the_discovery_index():
    harness = Harness(sampler=FakeSampler(script=passing_at(6, 7)))
    outcome = harness.run(max_attempts=16, per_round=4)
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert outcome.discovery_index == 6 and outcome.attempts_used == 7
    assert outcome.solution == "# ATTEMPT-6\nPASS"
    assert len(harness.sampler.calls) == 2
    assert harness.indices() == list(range(7))  # attempt 7 passed too, but is never recorded
    assert harness.learner.calls.count("step") == 1  # only after round 0
    [last] = harness.sink.of(JobSucceeded)
    assert harness.sink.events[-1] is last
    assert last.attempt == 6 and last.attempts_used == 7
    assert harness.judge.splits().count("hidden") == 1 and harness.judge.splits()[-1] == "all"


def test_hidden_failure_is_no_success_and_leaks_nothing_hidden():
    harness = Harness(sampler=FakeSampler(script=passing_at(1, tag="PASS HIDDENFAIL")))
    outcome = harness.run(max_attempts=8, per_round=4)
    assert outcome.status is OutcomeStatus.EXHAUSTED
    record = harness.sink.attempts[1]
    assert record.confirmation is Confirmation.HIDDEN_FAILED
    assert record.public_verdict is Verdict.ACCEPTED and record.verdict is Verdict.WRONG_ANSWER
    assert record.feedback == ""
    assert all(SECRET not in r.feedback for r in harness.sink.attempts)
    example = harness.learner.batches[0].examples[1]
    assert example.teacher_prompt_ids is None  # nothing public to show: masked
    teachers = [e.teacher_prompt_ids for b in harness.learner.batches for e in b.examples]
    assert all(SECRET not in decode(t) for t in teachers if t is not None)


def test_flaky_pass_is_no_success():
    harness = Harness(sampler=FakeSampler(script=passing_at(2, tag="PASS FLAKY")))
    outcome = harness.run(max_attempts=4, per_round=4)
    assert outcome.status is OutcomeStatus.EXHAUSTED and outcome.discovery_index is None
    record = harness.sink.attempts[2]
    assert record.confirmation is Confirmation.FLAKY and not record.succeeded
    assert [s for s in harness.judge.splits() if s != "public"] == ["hidden", "all"]


@pytest.mark.parametrize("phase", ["sampling", "judging", "learning"])
def test_cancel_between_phases(phase):
    stop = JobStop()

    def cancel() -> None:
        stop.request(StopReason.CANCEL)

    harness = Harness()
    if phase == "judging":
        harness.sampler.on_sample = cancel
    elif phase == "learning":
        harness.judge.on_public = cancel
    else:
        cancel()
    outcome = harness.run(max_attempts=8, per_round=4, stop=stop)
    assert outcome.status is OutcomeStatus.CANCELLED
    assert harness.sink.types()[-1] == "job.cancelled"
    assert len(harness.sampler.calls) == (0 if phase == "sampling" else 1)
    assert len(harness.judge.calls) == (4 if phase == "learning" else 0)
    assert "step" not in harness.learner.calls
    assert outcome.attempts_used == len(harness.sink.attempts)


@pytest.mark.parametrize("reason", [StopReason.LEASE_LOST, StopReason.SHUTDOWN])
def test_a_stop_other_than_a_cancel_abandons_the_job_with_no_ending(reason):
    stop = JobStop()
    harness = Harness()
    harness.sampler.on_sample = lambda: (
        stop.request(reason) if len(harness.sampler.calls) == 2 else None
    )
    outcome = harness.run(max_attempts=8, per_round=4, stop=stop)
    assert outcome.status is ABANDONED
    assert not set(harness.sink.types()) & TERMINAL_TYPES
    assert harness.sink.types()[-1] == "round.started"  # the round it stopped in
    assert harness.indices() == [0, 1, 2, 3] and outcome.attempts_used == 4
    assert harness.learner.calls[-1] == "delete"  # released all the same


def test_a_stop_wins_over_a_cancel_and_the_sampler_sees_either():
    stop = JobStop()
    harness = Harness()
    harness.run(max_attempts=4, per_round=4, stop=stop)
    [call] = harness.sampler.calls
    interrupt = call.params.interrupt
    assert interrupt is not None and interrupt() is False
    stop.request(StopReason.CANCEL)
    assert interrupt() is True and stop() is StopReason.CANCEL
    stop.request(StopReason.SHUTDOWN)
    assert stop() is StopReason.SHUTDOWN
    stop.request(StopReason.LEASE_LOST)
    assert stop() is StopReason.LEASE_LOST


class RefusingSink(MemorySink):
    """A sink that finds the lease gone at its `refuse_at`-th commit (0-based)."""

    def __init__(self, refuse_at: int) -> None:
        super().__init__()
        self.refuse_at = refuse_at

    def commit(self, event, **reported) -> None:
        if len(self.events) == self.refuse_at:
            raise Stopped(StopReason.LEASE_LOST)
        super().commit(event, **reported)


@pytest.mark.parametrize("refuse_at", [2, 6])  # an attempt's event; the job's ending
def test_a_sink_that_stops_abandons_the_job_even_while_writing_its_ending(refuse_at):
    harness = Harness(sink=RefusingSink(refuse_at))
    outcome = harness.run("best_of_k", max_attempts=4, per_round=4)
    assert outcome.status is ABANDONED and outcome.reason is None
    assert len(harness.sink.events) == refuse_at
    assert not set(harness.sink.types()) & TERMINAL_TYPES


def test_best_of_k_never_learns_and_samples_the_base_model():
    harness = Harness()
    harness.run("best_of_k", max_attempts=12, per_round=4)
    assert harness.learner.calls == []
    assert [call.adapter for call in harness.sampler.calls] == [None, None, None]
    prompts = {tuple(call.prompt_ids) for call in harness.sampler.calls}
    assert len(prompts) == 1
    seeds = [call.params.seed for call in harness.sampler.calls]
    assert seeds == [round_seed(7, r) for r in range(3)] and len(set(seeds)) == 3


def test_multi_turn_prompts_hold_past_feedback_never_past_attempts():
    harness = Harness()
    harness.run("multi_turn", max_attempts=12, per_round=4)
    first, second, third = (decode(call.prompt_ids) for call in harness.sampler.calls)
    assert "value-" not in first and "feedback" not in first
    assert all(f"value-{n}" in second for n in range(4)) and "value-4" not in second
    assert all(f"value-{n}" in third for n in range(8))
    assert all("ATTEMPT-" not in prompt for prompt in (first, second, third))
    assert harness.learner.calls == []
    assert all(call.adapter is None for call in harness.sampler.calls)


def test_multi_turn_drops_the_oldest_feedback_beyond_the_prompt_budget():
    harness = Harness()
    base = len(FakeTokenizer().apply_chat_template([{"role": "user", "content": "x"}]))
    budget = base + 900  # room for the problem and a few feedback blocks, not all of them
    harness.run("multi_turn", max_attempts=24, per_round=4, prompt_max_tokens=budget)
    last = decode(harness.sampler.calls[-1].prompt_ids)
    assert len(harness.sampler.calls[-1].prompt_ids) <= budget
    assert "value-19" in last and "value-0\n" not in last


def test_sdpo_teacher_prompts_hold_feedback_and_never_the_attempt():
    harness = Harness()
    harness.run("sdpo", max_attempts=8, per_round=4)
    batch = harness.learner.batches[0]
    round_zero = harness.sampler.calls[0]
    for n, example in enumerate(batch.examples):
        assert example.teacher_prompt_ids is not None
        teacher = decode(example.teacher_prompt_ids)
        assert f"value-{n}" in teacher and "ATTEMPT-" not in teacher
        assert decode(example.response_ids) == attempt_text(n)
        assert example.prompt_ids == tuple(round_zero.prompt_ids)
        assert example.sampler_logprobs == tuple(-0.5 for _ in example.response_ids)
    # Round 0 samples the fresh adapter's equal, the base model; round 1 the published one.
    assert [call.adapter for call in harness.sampler.calls] == [None, make_ref("job-1", 1)]
    assert harness.sampler.published == [make_ref("job-1", 1)]
    assert harness.learner.calls == ["create", "step", "checkpoint", "delete"]


def test_truncated_format_failure_gets_the_truncation_feedback():
    harness = Harness(sampler=FakeSampler(script=lambda n: "NOFORMAT", truncated=True))
    harness.run("sdpo", max_attempts=4, per_round=4)
    assert {r.feedback for r in harness.sink.attempts} == {TRUNCATED_MESSAGE}
    assert {r.verdict for r in harness.sink.attempts} == {Verdict.FORMAT_ERROR}


def test_events_come_in_order_with_budget_fields():
    harness = Harness()
    harness.run("sdpo", max_attempts=4, per_round=2)
    round_events = ["round.started", "attempt.finished", "attempt.finished"]
    assert harness.sink.types() == [
        "job.started",
        *round_events,
        "learner.step",
        "adapter.published",
        *round_events,
        "job.exhausted",
    ]
    used = [event.attempts_used for event in harness.sink.events]
    assert used == [0, 0, 1, 2, 2, 2, 2, 3, 4, 4]
    assert all(e.budget_left.attempts == 4 - e.attempts_used for e in harness.sink.events)
    assert all(e.budget_left.seconds == 3600.0 for e in harness.sink.events)  # clock stood
    assert [e.index for e in harness.sink.of(AttemptFinished)] == [0, 1, 2, 3]
    assert sum(e.type in TERMINAL_TYPES for e in harness.sink.events) == 1


def test_each_commit_carries_its_attempt_or_adapter_and_the_seconds_spent():
    clock = FakeClock()
    harness = Harness(clock=clock, sampler=FakeSampler(clock=clock, seconds_per_call=2.0))
    resume = Resume(
        start_attempt=4, start_round=1, adapter=make_ref("job-1", 1), elapsed_seconds=10.0
    )
    harness.run("sdpo", max_attempts=12, per_round=4, resume=resume)
    sink = harness.sink
    assert [a.index for a in sink.attempts] == [e.index for e in sink.of(AttemptFinished)]
    assert [a.version for a in sink.adapters] == [e.version for e in sink.of(AdapterPublished)]
    assert sink.adapters == harness.sampler.published[1:]  # the resumed one is not new
    assert len(sink.elapsed_s) == len(sink.events) and sink.elapsed_s[0] == 10.0
    # Each event's seconds are the ones its `budget_left` was computed from.
    lefts = [event.budget_left.seconds for event in sink.events]
    assert [3600.0 - left for left in lefts] == sink.elapsed_s
    assert sink.elapsed_s[-1] == 14.0  # two rounds sampled at 2 s each


def test_resume_continues_indices_rounds_and_the_adapter():
    harness = Harness()
    ref = make_ref("job-1", 3)
    resume = Resume(start_attempt=8, start_round=2, adapter=ref, elapsed_seconds=10.0)
    outcome = harness.run("sdpo", max_attempts=12, per_round=4, resume=resume)
    assert harness.indices() == [8, 9, 10, 11]
    assert harness.learner.calls[0] == "restore" and "create" not in harness.learner.calls
    assert harness.sampler.published[0] == ref and harness.sampler.calls[0].adapter == ref
    [started] = harness.sink.of(JobStarted)
    assert started.resumed and started.attempts_used == 8
    assert started.budget_left.seconds == 3590.0
    assert harness.sink.of(RoundStarted)[0].round == 2
    assert outcome.rounds == 3 and outcome.attempts_used == 12


def test_a_resume_without_durable_state_learns_again_from_the_base_model():
    harness = Harness()
    harness.learner.state_lost = True
    resume = Resume(start_attempt=4, start_round=1, adapter=make_ref("job-1", 3))
    harness.run("sdpo", max_attempts=12, per_round=4, resume=resume)
    assert harness.learner.calls[0] == "restore"
    assert harness.sampler.calls[0].adapter is None  # nothing restored, nothing published
    assert [a.version for a in harness.sampler.published] == [4]  # counting on after v3


def test_sdpo_passes_the_jobs_overrides_to_create_and_to_restore():
    overrides = {"learning_rate": 5e-5, "teacher": "frozen"}
    fresh = Harness()
    fresh.run("sdpo", max_attempts=4, per_round=4, sdpo=overrides)
    assert fresh.learner.calls[0] == "create" and fresh.learner.overrides == [overrides]

    resumed = Harness()
    resume = Resume(start_attempt=4, start_round=1, adapter=make_ref("job-1", 1))
    resumed.run("sdpo", max_attempts=8, per_round=4, sdpo=overrides, resume=resume)
    assert resumed.learner.calls[0] == "restore" and resumed.learner.overrides == [overrides]

    default = Harness()
    default.run("sdpo", max_attempts=4, per_round=4)
    assert default.learner.overrides == [{}]  # the worker's settings


def test_the_time_budget_ends_the_job_between_rounds():
    clock = FakeClock()
    harness = Harness(clock=clock, sampler=FakeSampler(clock=clock, seconds_per_call=6.0))
    outcome = harness.run("best_of_k", max_attempts=64, per_round=4, max_seconds=10.0)
    assert outcome.status is OutcomeStatus.EXHAUSTED
    assert len(harness.sampler.calls) == 2 and outcome.attempts_used == 8
    assert harness.sink.events[-1].budget_left.seconds == 0.0


def test_phase_seconds_split_the_wall_time():
    clock = FakeClock()
    harness = Harness(
        clock=clock,
        sampler=FakeSampler(clock=clock, seconds_per_call=2.0),
        judge=FakeJudge(clock=clock, seconds_per_run=0.5),
        learner=FakeLearner(clock=clock, seconds_per_step=3.0),
    )
    outcome = harness.run("sdpo", max_attempts=8, per_round=4)
    seconds = outcome.seconds
    assert (seconds.sampling, seconds.sandbox, seconds.learning) == (4.0, 4.0, 3.0)
    assert seconds.bookkeeping == 0.0 and seconds.total == 11.0


def test_public_judging_runs_concurrently_and_keeps_order():
    barrier = threading.Barrier(4, timeout=10)

    def meet() -> None:
        barrier.wait()

    harness = Harness(judge=FakeJudge(on_public=meet))
    harness.run("best_of_k", max_attempts=4, per_round=4)  # deadlocks unless 4 run at once
    assert harness.indices() == [0, 1, 2, 3]
    assert [r.feedback.count(f"value-{r.index}") for r in harness.sink.attempts] == [1] * 4


def test_an_engine_error_fails_the_job_and_releases_the_adapter():
    def broken(n: int) -> str:
        raise RuntimeError("out of memory")

    harness = Harness(sampler=FakeSampler(script=broken))
    outcome = harness.run("sdpo", max_attempts=4, per_round=4)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason == "RuntimeError: out of memory"
    assert harness.sink.types() == ["job.started", "round.started", "job.failed"]
    assert harness.learner.calls[-1] == "delete" and harness.sampler.released == ["job-1"]


def test_sdpo_needs_a_learner_and_resume_checks_its_counts():
    with pytest.raises(ValueError, match="needs a learner"):
        make_strategy("sdpo", context=None, learner=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start_round"):
        Resume(start_attempt=1, start_round=2)


def test_the_registry_names_each_strategy_once_and_the_cli_derives_its_help():
    from typing import get_args

    from service.cli.common import STRATEGY_HELP
    from service.solver.strategies import REGISTRY, STRATEGIES, StrategyName

    assert STRATEGIES == get_args(StrategyName) == tuple(REGISTRY)
    assert STRATEGY_HELP == "sdpo, best_of_k or multi_turn"
    with pytest.raises(ValueError, match="unknown strategy 'nope'; choose one of sdpo, best_of"):
        make_strategy("nope", context=None)  # type: ignore[arg-type]
