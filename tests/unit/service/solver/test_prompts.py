"""Prompts: the teacher never sees the attempt, ids align exactly, multi-turn trims the oldest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.problem import Problem
from service.config import DEFAULT_MODEL
from service.engine.model import ModelNotFoundError, resolve_model
from service.solver.prompts import (
    CLOSING,
    FEEDBACK_HEADER,
    PromptStyle,
    chat_ids,
    multi_turn_prompt_ids,
    problem_text,
    scored_ids,
    student_prompt_ids,
    student_text,
    teacher_prompt_ids,
    teacher_text,
)

ATTEMPT = "```python\ndef add(a, b):\n    return a - b  # ATTEMPT-MARKER\n```"
CASE = {"args": [1, 2], "expected": 3}
FEEDBACK = "Test Case 1: Wrong Answer\nInput\nadd(1, 2)\nOutput\n-1\nExpected\n3"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    cache_dir = Path(os.environ.get("RETROSPECT_DATA_DIR", "./data")) / "models"
    try:
        return AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL, cache_dir))
    except ModelNotFoundError as exc:
        pytest.skip(f"the default model's tokenizer is unavailable: {exc}")


def make_problem(kind: str = "functional", **overrides) -> Problem:
    tests = {
        "stdio": {"kind": "stdio", "public": [{"input": "1 2\n", "output": "3\n"}]},
        "functional": {"kind": "functional", "entry_point": "add", "public": [CASE]},
        "method": {"kind": "functional", "entry_point": "Solution.add", "public": [CASE]},
        "assert": {"kind": "assert", "public": [{"code": "assert add(1, 2) == 3"}]},
    }[kind]  # fmt: skip
    fields = {"title": "add", "statement": "Return the sum of a and b.", "tests": tests}
    return Problem.model_validate(fields | overrides)


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("stdio", "standard input"),
        ("functional", "function `add`"),
        ("method", "class `Solution` with the method `add`"),
        ("assert", "same namespace"),
    ],
)
def test_problem_text_states_the_io_contract(kind, phrase):
    text = problem_text(make_problem(kind, starter_code="def add(a, b):\n    pass\n"))
    assert phrase in text
    assert "Return the sum of a and b." in text
    assert "```python\ndef add(a, b):\n    pass\n```" in text


def test_student_text_asks_for_one_python_block():
    text = student_text(make_problem(time_limit_s=1.5))
    assert "```python code block" in text
    assert "1.5 seconds" in text


@pytest.mark.parametrize("style", list(PromptStyle))
def test_each_style_keeps_the_student_and_teacher_in_one_form(style):
    """A style changes the instructions only: the teacher is its own student plus feedback."""
    problem = make_problem(time_limit_s=2)
    student = student_text(problem, style)
    assert student.endswith(problem_text(problem)) and "2 seconds" in student
    assert "```python code block" in student
    expected = f"{student}\n{FEEDBACK_HEADER}{FEEDBACK}{CLOSING}"
    assert teacher_text(problem, FEEDBACK, style) == expected


def test_the_concise_style_asks_for_the_code_alone():
    problem = make_problem()
    concise = student_text(problem, PromptStyle.CONCISE)
    assert "no explanation, no tests, no example calls" in concise
    assert "thought process" not in concise
    assert "thought process" in student_text(problem, PromptStyle.REASONING)


def test_teacher_text_is_the_paper_template():
    problem = make_problem()
    expected = f"{student_text(problem)}\n{FEEDBACK_HEADER}{FEEDBACK}{CLOSING}"
    assert teacher_text(problem, FEEDBACK) == expected
    assert expected.endswith("\n\nCorrectly solve the original question.")


@settings(max_examples=25, deadline=None)
@given(feedback=st.text(min_size=1, max_size=200))
def test_teacher_prompt_never_contains_the_attempt(tokenizer, feedback):
    problem = make_problem()
    prompt = teacher_prompt_ids(tokenizer, problem, feedback)
    assert "ATTEMPT-MARKER" not in tokenizer.decode(prompt)
    assert "ATTEMPT-MARKER" not in teacher_text(problem, feedback)


def test_response_tokens_are_appended_verbatim(tokenizer):
    problem = make_problem()
    response = tokenizer.encode(ATTEMPT, add_special_tokens=False) + [tokenizer.eos_token_id]
    student = student_prompt_ids(tokenizer, problem)
    teacher = teacher_prompt_ids(tokenizer, problem, FEEDBACK)
    for prompt in (student, teacher):
        sequence = scored_ids(prompt, response)
        assert sequence[: len(prompt)] == prompt
        assert sequence[len(prompt) :] == response
    generation_prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    assert student[-len(generation_prompt) :] == generation_prompt
    assert teacher[-len(generation_prompt) :] == generation_prompt
    assert FEEDBACK in tokenizer.decode(teacher)
    assert FEEDBACK not in tokenizer.decode(student)


def test_chat_ids_with_a_system_message(tokenizer):
    ids = chat_ids(tokenizer, "hello", system="Be brief.")
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert "SmolLM" not in text


def test_long_feedback_is_cut_and_the_closing_line_kept(tokenizer):
    problem = make_problem()
    feedback = "Runtime Error\n" + "x = 1\n" * 3000
    short_budget = len(teacher_prompt_ids(tokenizer, problem, "")) + 50
    ids = teacher_prompt_ids(tokenizer, problem, feedback, max_tokens=short_budget)
    assert len(ids) <= short_budget
    assert len(ids) > short_budget - 10
    assert "Correctly solve the original question.<|im_end|>" in tokenizer.decode(ids)
    with pytest.raises(ValueError, match="teacher budget of 10 tokens"):
        teacher_prompt_ids(tokenizer, problem, feedback, max_tokens=10)


def test_multi_turn_drops_the_oldest_feedback_first(tokenizer):
    problem = make_problem()
    feedbacks = [f"Feedback {i}: Wrong Answer on case {i} " + "detail " * 20 for i in range(10)]
    all_ids = multi_turn_prompt_ids(tokenizer, problem, feedbacks, max_tokens=100_000)
    assert all(f"Feedback {i}:" in tokenizer.decode(all_ids) for i in range(10))
    budget = len(all_ids) - 60  # room for about 7 of the 10
    ids = multi_turn_prompt_ids(tokenizer, problem, feedbacks, max_tokens=budget)
    text = tokenizer.decode(ids)
    kept = [i for i in range(10) if f"Feedback {i}:" in text]
    assert len(ids) <= budget
    assert kept == list(range(kept[0], 10)), "the newest feedback survives, as a suffix"
    assert 0 < kept[0] < 9
    one_more = multi_turn_prompt_ids(tokenizer, problem, feedbacks[kept[0] - 1 :], max_tokens=10**6)
    assert len(one_more) > budget, "no older feedback would have fitted"
    assert text.count(FEEDBACK_HEADER.strip()) == 1


def test_multi_turn_without_feedback_is_the_student_prompt(tokenizer):
    problem = make_problem()
    no_room = len(student_prompt_ids(tokenizer, problem))
    ids = multi_turn_prompt_ids(tokenizer, problem, ["Wrong Answer"], max_tokens=no_room)
    assert ids == student_prompt_ids(tokenizer, problem)
    with pytest.raises(ValueError, match="prompt budget"):
        multi_turn_prompt_ids(tokenizer, problem, [], max_tokens=5)
