"""The feedback the model sees after an attempt, LeetCode style (docs/algorithm.md §3).

Only public cases are ever read: a hidden case contributes no text and no count. One failure
kind is shown, in this priority:
1. the first runtime or compile error (by case index), alone, with its last frames, the last
   executed input and the program's stderr;
2. else the first resource limit (time, memory, output) with the last executed input;
3. else a format error (no code block, or a truncated response);
A response cut at the token limit inside its code (a compile or format error) is named as cut,
with where its code ends, instead of the syntax error the cut caused.
4. else at most two wrong answers, the shortest input + output first.
Nothing failed in public, or the sandbox failed (never the program's fault): "".
Test cases are numbered from 1 (`CaseResult.index + 1`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.results import CaseResult, ProgramError, SuiteResult, Verdict

FORMAT_MESSAGE = "Incorrect Format: Put your code inside a ```python ... ``` block."
TRUNCATED_MESSAGE = (
    "Truncated Attempt: Your previous response was too long and truncated because it reached "
    "the maximum response length. Try again with a shorter response."
)
CUT_MARK = "..."

_ERRORS = (Verdict.COMPILE_ERROR, Verdict.RUNTIME_ERROR)
_LIMIT_HEADINGS = {
    Verdict.TIME_LIMIT: "Time Limit Exceeded",
    Verdict.MEMORY_LIMIT: "Memory Limit Exceeded",
    Verdict.OUTPUT_LIMIT: "Output Limit Exceeded",
}


@dataclass(frozen=True)
class FeedbackCaps:
    """How much of each part is shown; the defaults follow the paper's feedback format."""

    line_chars: int = 250
    input_lines: int = 8
    value_chars: int = 250
    message_chars: int = 300
    debug_lines: int = 10
    debug_line_chars: int = 300
    frames: int = 3
    wrong_answers: int = 2
    total_chars: int = 2000


DEFAULT_CAPS = FeedbackCaps()


def render_feedback(
    result: SuiteResult,
    *,
    truncated: bool = False,
    code: str | None = None,
    caps: FeedbackCaps = DEFAULT_CAPS,
) -> str:
    """The text shown to the model for `result`; `truncated` marks a response cut at its limit,
    `code` is the program judged (where a cut response's code ends)."""
    if _blames_sandbox(result):
        return ""
    public = sorted((case for case in result.cases if not case.hidden), key=lambda c: c.index)
    cut = truncated and _program_verdict(result, public)
    if cut is Verdict.FORMAT_ERROR:
        return TRUNCATED_MESSAGE  # no code block was reached, or it was never opened
    if cut is Verdict.COMPILE_ERROR:
        return _cap(truncated_message(code, caps), caps.total_chars)
    text = _first_section(result, public, caps)
    return _cap(text, caps.total_chars)


def truncated_message(code: str | None, caps: FeedbackCaps = DEFAULT_CAPS) -> str:
    """The cut named, with the last line of code the response reached."""
    if code is None or not code.strip():
        return TRUNCATED_MESSAGE
    lines = code.rstrip().split("\n")
    where = f"Your code was cut after line {len(lines)}:\n{_cap(lines[-1], caps.line_chars)}"
    return f"{TRUNCATED_MESSAGE}\n\n{where}"


def _program_verdict(result: SuiteResult, public: list[CaseResult]) -> Verdict | None:
    """A compile or format error that the feedback would report (where a cut would show)."""
    if result.verdict is Verdict.FORMAT_ERROR or _first(public, (Verdict.FORMAT_ERROR,)):
        return Verdict.FORMAT_ERROR
    compiled = _first(public, (Verdict.COMPILE_ERROR,))
    if compiled is not None or (result.verdict is Verdict.COMPILE_ERROR and not public):
        return Verdict.COMPILE_ERROR
    return None


def _blames_sandbox(result: SuiteResult) -> bool:
    if result.verdict is Verdict.SANDBOX_ERROR:
        return True
    return any(case.verdict is Verdict.SANDBOX_ERROR for case in result.cases)


def _first_section(result: SuiteResult, public: list[CaseResult], caps: FeedbackCaps) -> str:
    error = _first(public, _ERRORS)
    if error is not None:
        return _render_error(error, caps)
    if result.verdict is Verdict.COMPILE_ERROR and not public:
        # A judge may stop at a compile error before running any case; that error names no test.
        return f"Runtime Error\n{_cap(result.detail, caps.message_chars)}".rstrip()
    limit = _first(public, tuple(_LIMIT_HEADINGS))
    if limit is not None:
        return f"{_LIMIT_HEADINGS[limit.verdict]}\n\n{_last_input(limit, caps)}"
    if result.verdict is Verdict.FORMAT_ERROR or _first(public, (Verdict.FORMAT_ERROR,)):
        return FORMAT_MESSAGE
    wrong = [case for case in public if case.verdict is Verdict.WRONG_ANSWER]
    wrong.sort(key=lambda case: (case.input_chars + case.actual_chars, case.index))
    return "\n\n".join(_render_wrong(case, caps) for case in wrong[: caps.wrong_answers])


def _first(cases: Iterable[CaseResult], verdicts: tuple[Verdict, ...]) -> CaseResult | None:
    return next((case for case in cases if case.verdict in verdicts), None)


def _render_error(case: CaseResult, caps: FeedbackCaps) -> str:
    parts = ["\n".join(["Runtime Error", *_exception_lines(case.error, caps)])]
    # A compile error happens before any input is read: showing one would mislead.
    if case.verdict is Verdict.RUNTIME_ERROR:
        parts.append(_last_input(case, caps))
    if case.stderr_excerpt.strip():
        stderr = case.stderr_excerpt.strip("\n")
        parts.append("Stderr\n" + _cap_lines(stderr, caps.debug_lines, caps.debug_line_chars))
    return "\n\n".join(parts)


def _exception_lines(error: ProgramError | None, caps: FeedbackCaps) -> list[str]:
    if error is None:
        return []
    lines = [_cap(_exception_line(error), caps.message_chars)]
    # Innermost first, as LeetCode shows it; frames come in traceback order (outermost first).
    for frame in reversed(error.frames[-caps.frames :] if caps.frames > 0 else []):
        if frame.code.strip():
            lines.append("  " + _cap(frame.code.strip(), caps.line_chars))
        lines.append(f"Line {frame.line} in {frame.function} (Solution.py)")
    return lines


def _exception_line(error: ProgramError) -> str:
    return f"{error.type}: {error.message}" if error.message else error.type


def _last_input(case: CaseResult, caps: FeedbackCaps) -> str:
    return "Last Executed Input\n" + _render_input(case.input_excerpt, caps)


def _render_wrong(case: CaseResult, caps: FeedbackCaps) -> str:
    return "\n".join(
        [
            f"Test Case {case.index + 1}: Wrong Answer",
            "Input",
            _render_input(case.input_excerpt, caps),
            "Output",
            _cap(case.actual_excerpt, caps.value_chars),
            "Expected",
            _cap(case.expected_excerpt, caps.value_chars),
        ]
    )


def _render_input(text: str, caps: FeedbackCaps) -> str:
    return _cap_lines(text.rstrip("\n"), caps.input_lines, caps.line_chars)


def _cap_lines(text: str, max_lines: int, line_chars: int) -> str:
    lines = text.split("\n")
    shown = [_cap(line, line_chars) for line in lines[:max_lines]]
    if len(lines) > max_lines:
        shown.append(f"... ({len(lines) - max_lines} more lines)")
    return "\n".join(shown)


def _cap(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the cut marked."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(CUT_MARK), 0)] + CUT_MARK[: max(limit, 0)]
