"""The probe's failing attempts: sampled from the base model, judged and given feedback exactly
as a solver round does, each paired with another problem's feedback as its control."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.problem import Problem
from service.engine.types import Sampler, SamplingParams
from service.solver.attempts import Judge
from service.solver.feedback import render_feedback
from service.solver.prompts import (
    DEFAULT_PROMPT_STYLE,
    ChatTokenizer,
    PromptStyle,
    student_prompt_ids,
)


@dataclass(frozen=True)
class ProbeProblem:
    """A problem with a reference solution that passes its own tests."""

    id: str
    problem: Problem
    reference: str


@dataclass(frozen=True)
class Failure:
    """A failing attempt with the feedback its teacher prompt would hold."""

    problem_id: str
    response_ids: tuple[int, ...]
    feedback: str
    verdict: str


def sound(problems: Sequence[ProbeProblem], judge: Judge) -> list[ProbeProblem]:
    """The problems whose reference passes all their tests (a wrong reference is no target)."""
    return [p for p in problems if judge.run_suite(p.reference, p.problem, "all").accepted]


def sample_failures(
    problem: ProbeProblem,
    sampler: Sampler,
    judge: Judge,
    tokenizer: ChatTokenizer,
    *,
    attempts: int,
    params: SamplingParams,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[Failure]:
    """Sample `attempts` from the student prompt; keep those that fail with feedback."""
    prompt = student_prompt_ids(tokenizer, problem.problem, style=style)
    failures = []
    for sample in sampler.sample(prompt, attempts, params, None):
        result = judge.run_suite(sample.text, problem.problem, "public")
        solution = judge.extract(sample.text, problem.problem)
        code = None if solution is None else solution.code
        feedback = render_feedback(result, truncated=sample.truncated, code=code)
        if not result.accepted and feedback and sample.token_ids:
            failures.append(Failure(problem.id, sample.token_ids, feedback, result.verdict.value))
    return failures


def control_feedback(failures: Sequence[Failure]) -> list[str]:
    """For each failure, the feedback of a failure on another problem (same form, none of
    this problem's information): the next problem's in order, cycling through its attempts."""
    by_problem: dict[str, list[Failure]] = {}
    for failure in failures:
        by_problem.setdefault(failure.problem_id, []).append(failure)
    order = list(by_problem)
    if len(order) < 2:
        raise ValueError("the control needs failing attempts on at least two problems")
    seen: dict[str, int] = {}
    controls = []
    for failure in failures:
        nth = seen.get(failure.problem_id, 0)
        seen[failure.problem_id] = nth + 1
        other = by_problem[order[(order.index(failure.problem_id) + 1) % len(order)]]
        controls.append(other[nth % len(other)].feedback)
    return controls


def collect(
    problems: Sequence[ProbeProblem],
    sampler: Sampler,
    judge: Judge,
    tokenizer: ChatTokenizer,
    *,
    attempts: int,
    params: SamplingParams,
    on_problem: Callable[[ProbeProblem, list[Failure]], None] | None = None,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[Failure]:
    """Every problem's failing attempts, in problem order."""
    failures: list[Failure] = []
    for problem in problems:
        found = sample_failures(
            problem, sampler, judge, tokenizer, attempts=attempts, params=params, style=style
        )
        failures.extend(found)
        if on_problem is not None:
            on_problem(problem, found)
    return failures
