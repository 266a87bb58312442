"""Score each failing attempt's reference and response under the three prompts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.engine.host import ModelHost
from service.engine.scoring import token_logprobs
from service.probe.attempts import Failure, ProbeProblem, control_feedback
from service.probe.summary import Scored
from service.solver.prompts import (
    DEFAULT_PROMPT_STYLE,
    PromptStyle,
    student_prompt_ids,
    teacher_prompt_ids,
)
from service.solver.spec import TEACHER_MAX_TOKENS


def reference_ids(tokenizer: object, reference: str) -> list[int]:
    """The reference as the model is asked to answer: one fenced Python block."""
    text = f"```python\n{reference.strip()}\n```"
    return list(tokenizer.encode(text, add_special_tokens=False))  # type: ignore[attr-defined]


def score(
    failures: Sequence[Failure],
    problems: Mapping[str, ProbeProblem],
    host: ModelHost,
    *,
    bf16_autocast: bool | None = None,
    rows_per_forward: int = 4,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[Scored]:
    """Mean log-prob per token of the reference and of the attempt under the student prompt,
    the teacher prompt with the attempt's feedback, and the teacher prompt with the control's."""
    tokenizer = host.tokenizer
    controls = control_feedback(failures)
    students = {
        pid: student_prompt_ids(tokenizer, problems[pid].problem, style=style) for pid in problems
    }
    references = {pid: reference_ids(tokenizer, problems[pid].reference) for pid in problems}
    prompts: list[list[int]] = []
    continuations: list[list[int]] = []
    for failure, control in zip(failures, controls, strict=True):
        problem = problems[failure.problem_id].problem
        teacher = teacher_prompt_ids(
            tokenizer, problem, failure.feedback, max_tokens=TEACHER_MAX_TOKENS, style=style
        )
        shown_other = teacher_prompt_ids(
            tokenizer, problem, control, max_tokens=TEACHER_MAX_TOKENS, style=style
        )
        student = students[failure.problem_id]
        reference = references[failure.problem_id]
        attempt = list(failure.response_ids)
        for prompt, continuation in (
            (student, reference),
            (teacher, reference),
            (shown_other, reference),
            (student, attempt),
            (teacher, attempt),
            (shown_other, attempt),
        ):
            prompts.append(prompt)
            continuations.append(continuation)
    # The student prompt and the reference repeat for every attempt of a problem: score once.
    unique = list(dict.fromkeys(zip(map(tuple, prompts), map(tuple, continuations), strict=True)))
    logprobs = token_logprobs(
        host,
        [p for p, _ in unique],
        [c for _, c in unique],
        bf16_autocast=bf16_autocast,
        rows_per_forward=rows_per_forward,
    )
    mean_of = {
        pair: sum(values) / len(values) for pair, values in zip(unique, logprobs, strict=True)
    }
    means = [mean_of[(tuple(p), tuple(c))] for p, c in zip(prompts, continuations, strict=True)]
    return [
        Scored(failure.problem_id, *means[6 * i : 6 * i + 6]) for i, failure in enumerate(failures)
    ]
