"""Verdicts and results of judging one program against a suite (see docs/sandbox.md)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

EXCERPT_CHARS = 500
# Who compared the case: the host (expected values never entered the sandbox) or, for assert
# tests the host could not compile, the harness inside the sandbox (see docs/sandbox.md).
Judged = Literal["host", "sandbox"]
# What a result's text may not hold: lone surrogates (no UTF-8 encoding exists for them, so a
# database, a tokenizer or `str.encode` would fail on them later) and NUL (which PostgreSQL's
# text refuses).
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


def valid_text(text: str) -> str:
    """`text` with every character no store or tokenizer accepts replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


# Every string of a result: whatever the program made of its exception or its output, the
# result encodes as UTF-8 (replacement, never failure).
Text = Annotated[str, AfterValidator(valid_text)]


class Verdict(StrEnum):
    """Outcome of a case or a whole suite. `sandbox_error` is ours, never the program's."""

    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    COMPILE_ERROR = "compile_error"
    FORMAT_ERROR = "format_error"
    SANDBOX_ERROR = "sandbox_error"
    SKIPPED = "skipped"


# When cases disagree, the suite takes the most telling failure, in this order.
SUITE_PRIORITY: tuple[Verdict, ...] = (
    Verdict.SANDBOX_ERROR,
    Verdict.COMPILE_ERROR,
    Verdict.RUNTIME_ERROR,
    Verdict.MEMORY_LIMIT,
    Verdict.OUTPUT_LIMIT,
    Verdict.TIME_LIMIT,
    Verdict.WRONG_ANSWER,
)


class ErrorFrame(BaseModel):
    """One frame of a traceback inside the program (`Solution.py`)."""

    model_config = ConfigDict(frozen=True)

    line: int
    function: Text
    code: Text = ""


class ProgramError(BaseModel):
    """An exception raised by the program, as the feedback shows it."""

    model_config = ConfigDict(frozen=True)

    type: Text
    message: Text
    frames: list[ErrorFrame] = Field(default_factory=list)


class CaseResult(BaseModel):
    """The judgement of one test case."""

    model_config = ConfigDict(frozen=True)

    index: int
    hidden: bool = False
    verdict: Verdict
    time_s: Annotated[float, Field(ge=0.0)] = 0.0
    memory_mb: Annotated[float, Field(ge=0.0)] = 0.0
    input_excerpt: Text = ""
    expected_excerpt: Text = ""
    actual_excerpt: Text = ""
    stderr_excerpt: Text = ""
    error: ProgramError | None = None
    input_chars: int = 0
    actual_chars: int = 0
    judged: Judged = "host"


class SuiteResult(BaseModel):
    """The judgement of one program: an overall verdict and one result per case."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    passed: int
    total: int
    cases: list[CaseResult] = Field(default_factory=list)
    detail: Text = ""
    wall_s: float = 0.0

    @property
    def accepted(self) -> bool:
        """True when every case passed."""
        return self.verdict is Verdict.ACCEPTED


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The head of `text`, marked when cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more chars)"


def suite_verdict(cases: list[CaseResult]) -> Verdict:
    """Accepted when every case is; otherwise the highest-priority failure among the cases."""
    seen = {c.verdict for c in cases}
    if not cases or seen <= {Verdict.ACCEPTED}:
        return Verdict.ACCEPTED if cases else Verdict.SANDBOX_ERROR
    for verdict in SUITE_PRIORITY:
        if verdict in seen:
            return verdict
    return Verdict.WRONG_ANSWER
