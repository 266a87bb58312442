"""Judging a round's attempts, and the record of each attempt that the service persists.

Public tests are judged concurrently (one thread per sandbox slot) but results keep the
attempts' order. A public pass is confirmed on the hidden tests, then re-run once on every
test, because a pass that a second run does not reproduce (a race, a timing edge) is not a
solution. Hidden results decide the verdict but never reach the feedback: the feedback is
rendered from the public result alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sandbox.problem import Problem
from sandbox.results import SuiteResult, Verdict
from sandbox.runner import Split
from sandbox.solution import Solution
from service.engine.types import Sample
from service.solver.feedback import render_feedback


class Judge(Protocol):
    """What the solver needs of a sandbox (`sandbox.Sandbox` is one)."""

    def run_suite(self, program: str, problem: Problem, split: Split = "public") -> SuiteResult:
        """Judge `program` on one split of the problem's tests."""
        ...

    def extract(self, program: str, problem: Problem) -> Solution | None:
        """What `run_suite` judges of `program` (and what it left out), or None for nothing."""
        ...


class Confirmation(StrEnum):
    """How far a public pass got; `not_run` for a public failure."""

    NOT_RUN = "not_run"
    HIDDEN_FAILED = "hidden_failed"
    FLAKY = "flaky"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class AttemptRecord:
    """One judged attempt, as the service stores it.

    `verdict` is final: the public verdict, or for a public pass the verdict of the hidden run
    or of the re-run that failed it. `passed`/`total` count public cases (what the model sees).
    """

    index: int
    round: int
    response: str
    code: str | None
    verdict: Verdict
    public_verdict: Verdict
    passed: int
    total: int
    confirmation: Confirmation
    feedback: str
    tokens: int
    truncated: bool
    dropped: str = ""  # the top-level test code left out of `code` (sandbox/solution.py)

    @property
    def succeeded(self) -> bool:
        """Passed public and hidden tests, and again on the re-run."""
        return self.confirmation is Confirmation.CONFIRMED


def judge_public(
    judge: Judge, problem: Problem, samples: Sequence[Sample], executor: Executor
) -> list[SuiteResult]:
    """Public results of every sample, in the samples' order."""
    return list(executor.map(lambda sample: _judge_once(judge, problem, sample.text), samples))


def _judge_once(
    judge: Judge, problem: Problem, program: str, split: Split = "public"
) -> SuiteResult:
    result = judge.run_suite(program, problem, split)
    if result.verdict is Verdict.SANDBOX_ERROR:
        # Our failure, not the program's: one retry before it is recorded (and gets no feedback).
        result = judge.run_suite(program, problem, split)
    return result


def confirm(judge: Judge, problem: Problem, program: str) -> tuple[Confirmation, Verdict]:
    """Confirm a public pass on the hidden tests, then once more on all tests."""
    hidden = _judge_once(judge, problem, program, "hidden")
    if not hidden.accepted:
        return Confirmation.HIDDEN_FAILED, hidden.verdict
    rerun = _judge_once(judge, problem, program, "all")
    if not rerun.accepted:
        return Confirmation.FLAKY, rerun.verdict
    return Confirmation.CONFIRMED, Verdict.ACCEPTED


@dataclass(frozen=True)
class Attempt:
    """A sampled attempt with its position; what `settle` turns into a record."""

    index: int
    round: int
    sample: Sample
    public: SuiteResult


def settle(judge: Judge, problem: Problem, attempt: Attempt) -> AttemptRecord:
    """Confirm a public pass if there is one, and render the attempt's feedback."""
    confirmation, verdict = Confirmation.NOT_RUN, attempt.public.verdict
    if attempt.public.accepted:
        confirmation, verdict = confirm(judge, problem, attempt.sample.text)
    solution = judge.extract(attempt.sample.text, problem)
    code = None if solution is None else solution.code
    # Public cases only: a public pass that fails hidden gets "" (nothing public to show).
    feedback = render_feedback(attempt.public, truncated=attempt.sample.truncated, code=code)
    return AttemptRecord(
        index=attempt.index,
        round=attempt.round,
        response=attempt.sample.text,
        code=code,
        verdict=verdict,
        public_verdict=attempt.public.verdict,
        passed=attempt.public.passed,
        total=attempt.public.total,
        confirmation=confirmation,
        feedback=feedback,
        tokens=len(attempt.sample.token_ids),
        truncated=attempt.sample.truncated,
        dropped="" if solution is None else solution.dropped,
    )
