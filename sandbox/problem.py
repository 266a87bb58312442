"""The problem contract (see docs/sandbox.md): a statement, its tests and their limits.

These pydantic models are the edge of the sandbox: what a user POSTs, what the CLI reads
from `--problem`, and what importers produce. Validation errors name the field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

MAX_CASES = 1000
MAX_CASE_BYTES = 8 * 1024 * 1024
ENTRY_POINT_PATTERN = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$"


class TestKind(StrEnum):
    """How a case drives the program."""

    STDIO = "stdio"
    FUNCTIONAL = "functional"
    ASSERT = "assert"


class CompareMode(StrEnum):
    """How an actual output is matched against the expected one."""

    EXACT = "exact"
    TOKENS = "tokens"
    FLOAT = "float"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(_Strict):
    """Comparison of outputs; tolerances only apply in `float` mode, and never to integers."""

    mode: CompareMode = CompareMode.TOKENS
    rel_tol: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-6
    abs_tol: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-9


class StdioCase(_Strict):
    """Feed `input` on stdin; stdout must match `output`."""

    input: Annotated[str, Field(max_length=MAX_CASE_BYTES)] = ""
    output: Annotated[str, Field(max_length=MAX_CASE_BYTES)]


class FunctionalCase(_Strict):
    """Call the entry point with JSON arguments; the returned value must equal `expected`."""

    args: list[JsonValue] = Field(default_factory=list)
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    expected: JsonValue = None


class AssertCase(_Strict):
    """Run `code` after the program in its namespace; it passes if it runs to its end.

    If `code` defines `check`, it is called as `check(<entry_point>)` (HumanEval style).
    """

    code: Annotated[str, Field(min_length=1, max_length=MAX_CASE_BYTES)]


Case = StdioCase | FunctionalCase | AssertCase


class _TestsBase(_Strict):
    compare: Compare = Field(default_factory=Compare)

    def cases(self, split: Literal["public", "hidden"]) -> list[Case]:
        """The cases of one split; public cases give reward and feedback, hidden ones confirm."""
        return list(getattr(self, split))


class StdioTests(_TestsBase):
    """LiveCodeBench / Codeforces style: the program reads stdin and writes stdout."""

    kind: Literal[TestKind.STDIO] = TestKind.STDIO
    public: Annotated[list[StdioCase], Field(min_length=1, max_length=MAX_CASES)]
    hidden: Annotated[list[StdioCase], Field(max_length=MAX_CASES)] = Field(default_factory=list)
    entry_point: None = None


class FunctionalTests(_TestsBase):
    """LeetCode style: call `entry_point` (a function or `Class.method`) with JSON arguments."""

    kind: Literal[TestKind.FUNCTIONAL] = TestKind.FUNCTIONAL
    public: Annotated[list[FunctionalCase], Field(min_length=1, max_length=MAX_CASES)]
    hidden: Annotated[list[FunctionalCase], Field(max_length=MAX_CASES)] = Field(
        default_factory=list
    )
    entry_point: Annotated[str, Field(pattern=ENTRY_POINT_PATTERN)]


class AssertTests(_TestsBase):
    """HumanEval (`check(candidate)`) or MBPP (plain asserts) style."""

    kind: Literal[TestKind.ASSERT] = TestKind.ASSERT
    public: Annotated[list[AssertCase], Field(min_length=1, max_length=MAX_CASES)]
    hidden: Annotated[list[AssertCase], Field(max_length=MAX_CASES)] = Field(default_factory=list)
    entry_point: Annotated[str | None, Field(pattern=ENTRY_POINT_PATTERN)] = None


Tests = Annotated[StdioTests | FunctionalTests | AssertTests, Field(discriminator="kind")]


class Problem(_Strict):
    """A programming problem with its tests and limits (see docs/sandbox.md)."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    statement: Annotated[str, Field(min_length=1, max_length=100_000)]
    language: Literal["python"] = "python"
    starter_code: Annotated[str | None, Field(max_length=100_000)] = None
    time_limit_s: Annotated[float, Field(gt=0.0, le=60.0)] = 2.0
    memory_limit_mb: Annotated[int, Field(ge=32, le=4096)] = 256
    tests: Tests


def describe_validation_error(exc: ValidationError, where: str = "document") -> str:
    """`field.path: message` for the first error, so a CLI or a log names the bad field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or where
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{field}: {first['msg']}{more}"
