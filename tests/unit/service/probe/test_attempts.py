"""Failing attempts and their controls: fakes for the sampler and the judge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.problem import AssertCase, AssertTests, Problem
from sandbox.results import CaseResult, SuiteResult, Verdict
from sandbox.solution import Solution
from service.engine.types import AdapterRef, Sample, SamplingParams
from service.probe.attempts import (
    Failure,
    ProbeProblem,
    collect,
    control_feedback,
    sample_failures,
    sound,
)
from tests.unit.service.solver.fakes import FakeTokenizer


def failure(problem: str, feedback: str) -> Failure:
    return Failure(problem, (1, 2), feedback, "wrong_answer")


def test_the_control_comes_from_the_next_problem_cycling_its_attempts() -> None:
    failures = [failure("a", "a0"), failure("a", "a1"), failure("a", "a2"), failure("b", "b0")]
    failures.append(failure("c", "c0"))
    assert control_feedback(failures) == ["b0", "b0", "b0", "c0", "a0"]


@given(st.lists(st.sampled_from("abcd"), min_size=2, max_size=30).filter(lambda p: len(set(p)) > 1))
def test_a_control_is_always_another_problems_feedback(problems: list[str]) -> None:
    failures = [failure(p, f"{p}-{i}") for i, p in enumerate(problems)]
    for own, control in zip(failures, control_feedback(failures), strict=True):
        assert not control.startswith(f"{own.problem_id}-")


def test_one_problem_has_no_control() -> None:
    with pytest.raises(ValueError, match="at least two problems"):
        control_feedback([failure("a", "x"), failure("a", "y")])


PROBLEM = Problem(
    title="t", statement="s", tests=AssertTests(public=[AssertCase(code="assert f() == 1")])
)


class ScriptedSampler:
    """Returns the given texts as one batch of samples."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        return [Sample((7, 8), (-0.1, -0.2), t) for t in self.texts[:n]]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class VerdictJudge:
    """Accepts programs containing PASS; otherwise a wrong answer on case 0."""

    def run_suite(self, program: str, problem: Problem, split: str = "public") -> SuiteResult:
        if "PASS" in program:
            return SuiteResult(verdict=Verdict.ACCEPTED, passed=1, total=1)
        case = CaseResult(index=0, verdict=Verdict.WRONG_ANSWER, actual_excerpt="2")
        return SuiteResult(verdict=Verdict.WRONG_ANSWER, passed=0, total=1, cases=[case])

    def extract(self, program: str, problem: Problem) -> Solution | None:
        return Solution(program)


def test_only_failing_attempts_with_feedback_are_kept() -> None:
    item = ProbeProblem("p", PROBLEM, "def f(): return 1")
    sampler = ScriptedSampler(["PASS", "wrong", "wrong again"])
    found = sample_failures(
        item,
        sampler,
        VerdictJudge(),
        FakeTokenizer(),
        attempts=3,
        params=SamplingParams(),  # type: ignore[arg-type]
    )
    assert [f.verdict for f in found] == ["wrong_answer", "wrong_answer"]
    assert all(f.feedback and f.problem_id == "p" for f in found)


def test_collect_reports_each_problem_and_sound_drops_bad_references() -> None:
    good = ProbeProblem("good", PROBLEM, "PASS")
    bad = ProbeProblem("bad", PROBLEM, "broken")
    assert sound([good, bad], VerdictJudge()) == [good]  # type: ignore[arg-type]
    seen: list[str] = []
    found = collect(
        [good, bad],
        ScriptedSampler(["x"]),  # type: ignore[arg-type]
        VerdictJudge(),  # type: ignore[arg-type]
        FakeTokenizer(),  # type: ignore[arg-type]
        attempts=1,
        params=SamplingParams(),
        on_problem=lambda p, f: seen.append(f"{p.id}:{len(f)}"),
    )
    assert seen == ["good:1", "bad:1"] and len(found) == 2
