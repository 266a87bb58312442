"""Student, teacher and multi-turn prompts as token ids (docs/algorithm.md §2).

Pure functions of a problem, feedback strings and a tokenizer's chat template. The teacher
prompt holds the problem and the feedback, never the attempt's text: the attempt enters the
teacher only as the student's exact sampled token ids appended after the teacher prompt
(`scored_ids`), so both sides score token-identical responses with no re-tokenization.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol

from sandbox.problem import Problem, TestKind


class PromptStyle(StrEnum):
    """How the student (and, in the same form, the teacher) is asked to answer.

    `reasoning`: the paper's prompt, which invites a thought process before the code;
    `concise`: the code alone, with no explanation, tests or example calls, which keeps a
    coder model's answer inside a small token budget.
    """

    REASONING = "reasoning"
    CONCISE = "concise"


_TASK = (
    "You are a coding expert. You will be given a coding problem, and you need to write a "
    "correct Python program that matches the specification and passes all tests. The time "
    "limit is {time_limit} seconds. "
)
INSTRUCTIONS = {
    PromptStyle.REASONING: _TASK + "You may start by outlining your thought process. In the "
    "end, please provide the complete code in a single ```python code block.",
    PromptStyle.CONCISE: _TASK + "Answer with the complete code in a single ```python code "
    "block and nothing else: no explanation, no tests, no example calls.",
}
DEFAULT_PROMPT_STYLE = PromptStyle.REASONING
FEEDBACK_HEADER = "The following is feedback from your unsuccessful earlier attempt:\n\n"
CLOSING = "\n\nCorrectly solve the original question."


class ChatTokenizer(Protocol):
    """The part of a transformers tokenizer the prompts use."""

    def apply_chat_template(self, conversation: list[dict[str, str]], **kwargs: Any) -> Any:
        """Render and tokenize a conversation."""
        ...


def problem_text(problem: Problem) -> str:
    """The problem as the model reads it: title, statement, I/O contract, starter code."""
    parts = [f"# {problem.title}", problem.statement.strip(), _io_contract(problem)]
    if problem.starter_code:
        parts.append(f"Start from this code:\n```python\n{problem.starter_code.rstrip()}\n```")
    return "\n\n".join(parts)


def _io_contract(problem: Problem) -> str:
    entry_point = problem.tests.entry_point
    if problem.tests.kind is TestKind.STDIO:
        return "Read the input from standard input and write the answer to standard output."
    if entry_point is not None and "." in entry_point:
        cls, method = entry_point.split(".", 1)
        return f"Define the class `{cls}` with the method `{method}`; the tests call it directly."
    if entry_point is not None:
        return f"Define the function `{entry_point}`; the tests call it directly."
    return "The tests run after your code, in the same namespace; do not read standard input."


def student_text(problem: Problem, style: PromptStyle = DEFAULT_PROMPT_STYLE) -> str:
    """The student's user message: the coding instructions, then the problem."""
    instructions = INSTRUCTIONS[style].format(time_limit=f"{problem.time_limit_s:g}")
    return f"{instructions}\n\n{problem_text(problem)}"


def teacher_text(problem: Problem, feedback: str, style: PromptStyle = DEFAULT_PROMPT_STYLE) -> str:
    """The self-teacher's user message (docs/algorithm.md §2): problem, feedback, closing line."""
    return f"{student_text(problem, style)}\n{FEEDBACK_HEADER}{feedback}{CLOSING}"


def multi_turn_text(
    problem: Problem, feedbacks: Sequence[str], style: PromptStyle = DEFAULT_PROMPT_STYLE
) -> str:
    """The multi-turn baseline's one user message with all past feedback (docs/algorithm.md §2)."""
    if not feedbacks:
        return student_text(problem, style)
    joined = "\n\n".join(feedbacks)
    return f"{student_text(problem, style)}\n\n{FEEDBACK_HEADER}{joined}{CLOSING}"


def chat_ids(tokenizer: ChatTokenizer, user_text: str, *, system: str | None = None) -> list[int]:
    """Token ids of one user turn plus the assistant generation prompt (thinking off)."""
    messages = [{"role": "user", "content": user_text}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False,
        enable_thinking=False,
    )  # fmt: skip
    return [int(i) for i in ids]


def student_prompt_ids(
    tokenizer: ChatTokenizer,
    problem: Problem,
    *,
    system: str | None = None,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[int]:
    """The student prompt's token ids."""
    return chat_ids(tokenizer, student_text(problem, style), system=system)


def teacher_prompt_ids(
    tokenizer: ChatTokenizer,
    problem: Problem,
    feedback: str,
    *,
    max_tokens: int = 10240,
    system: str | None = None,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[int]:
    """The teacher prompt's token ids; an over-long feedback is cut, never the closing line."""
    ids = chat_ids(tokenizer, teacher_text(problem, feedback, style), system=system)
    if len(ids) <= max_tokens:
        return ids
    fits = _longest_fitting(
        len(feedback),
        lambda n: (
            len(chat_ids(tokenizer, teacher_text(problem, feedback[:n], style), system=system))
            <= max_tokens
        ),
    )
    if fits is None:
        raise ValueError(f"the problem alone exceeds the teacher budget of {max_tokens} tokens")
    return chat_ids(tokenizer, teacher_text(problem, feedback[:fits], style), system=system)


def multi_turn_prompt_ids(
    tokenizer: ChatTokenizer,
    problem: Problem,
    feedbacks: Sequence[str],
    *,
    max_tokens: int,
    system: str | None = None,
    style: PromptStyle = DEFAULT_PROMPT_STYLE,
) -> list[int]:
    """Multi-turn prompt ids keeping the newest feedback that fits; the oldest goes first."""

    def render(first_kept: int) -> list[int]:
        text = multi_turn_text(problem, feedbacks[first_kept:], style)
        return chat_ids(tokenizer, text, system=system)

    if len(render(len(feedbacks))) > max_tokens:
        raise ValueError(f"the problem alone exceeds the prompt budget of {max_tokens} tokens")
    # The fitting prompts form a suffix of the feedback list: search its start.
    low, high = 0, len(feedbacks)
    while low < high:
        mid = (low + high) // 2
        if len(render(mid)) <= max_tokens:
            high = mid
        else:
            low = mid + 1
    return render(low)


def scored_ids(prompt_ids: Sequence[int], response_ids: Sequence[int]) -> list[int]:
    """[prompt; response]: what a model scores, the response being the exact sampled ids."""
    return [*prompt_ids, *response_ids]


def _longest_fitting(length: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [0, length] with fits(n), assuming fits is monotone; None if none."""
    if not fits(0):
        return None
    low, high = 0, length
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low
