"""The feedback text: priority, layout, caps, and that hidden cases never show."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sandbox.results import CaseResult, ErrorFrame, ProgramError, SuiteResult, Verdict
from service.solver.feedback import (
    DEFAULT_CAPS,
    FORMAT_MESSAGE,
    TRUNCATED_MESSAGE,
    render_feedback,
)

FAILURES = [
    Verdict.WRONG_ANSWER,
    Verdict.RUNTIME_ERROR,
    Verdict.TIME_LIMIT,
    Verdict.MEMORY_LIMIT,
    Verdict.OUTPUT_LIMIT,
    Verdict.COMPILE_ERROR,
]
ZERO_DIVISION = ProgramError(
    type="ZeroDivisionError",
    message="division by zero",
    frames=[
        ErrorFrame(line=90, function="<module>", code="main()"),
        ErrorFrame(line=80, function="main", code="print(solve(x))"),
        ErrorFrame(line=75, function="solve", code="return helper(x)"),
        ErrorFrame(line=73, function="helper", code="return 1 / x"),
    ],
)


def case(index: int, verdict: Verdict, **fields: Any) -> CaseResult:
    texts = {"input_excerpt": f"in{index}", "expected_excerpt": "4", "actual_excerpt": "5"}
    texts.update(fields)
    return CaseResult(index=index, verdict=verdict, **texts)


def suite(*cases: CaseResult, verdict: Verdict | None = None, detail: str = "") -> SuiteResult:
    passed = sum(c.verdict is Verdict.ACCEPTED for c in cases)
    failed = [c.verdict for c in cases if c.verdict is not Verdict.ACCEPTED]
    overall = verdict or (failed[0] if failed else Verdict.ACCEPTED)
    return SuiteResult(
        verdict=overall, passed=passed, total=len(cases), cases=list(cases), detail=detail
    )


def test_all_public_passing_is_empty() -> None:
    assert render_feedback(suite(case(0, Verdict.ACCEPTED), case(1, Verdict.ACCEPTED))) == ""


def test_hidden_failures_alone_are_empty() -> None:
    hidden = case(1, Verdict.RUNTIME_ERROR, hidden=True, error=ZERO_DIVISION)
    assert render_feedback(suite(case(0, Verdict.ACCEPTED), hidden)) == ""


def test_sandbox_error_blames_nobody() -> None:
    result = suite(case(0, Verdict.WRONG_ANSWER), case(1, Verdict.SANDBOX_ERROR))
    assert render_feedback(result) == ""
    assert render_feedback(suite(verdict=Verdict.SANDBOX_ERROR, detail="docker died")) == ""


def test_runtime_error_layout() -> None:
    result = suite(
        case(0, Verdict.WRONG_ANSWER),
        case(
            1,
            Verdict.RUNTIME_ERROR,
            error=ZERO_DIVISION,
            input_excerpt="[[26,30,2]]",
            stderr_excerpt="x=0\n",
        ),
        case(2, Verdict.RUNTIME_ERROR, error=ProgramError(type="KeyError", message="'k'")),
    )
    assert render_feedback(result) == (
        "Runtime Error\n"
        "ZeroDivisionError: division by zero\n"
        "  return 1 / x\n"
        "Line 73 in helper (Solution.py)\n"
        "  return helper(x)\n"
        "Line 75 in solve (Solution.py)\n"
        "  print(solve(x))\n"
        "Line 80 in main (Solution.py)\n"
        "\n"
        "Last Executed Input\n"
        "[[26,30,2]]\n"
        "\n"
        "Stderr\n"
        "x=0"
    )


def test_runtime_error_without_details() -> None:
    text = render_feedback(suite(case(0, Verdict.RUNTIME_ERROR, input_excerpt="7")))
    assert text == "Runtime Error\n\nLast Executed Input\n7"


def test_compile_error_shows_no_input() -> None:
    error = ProgramError(
        type="SyntaxError",
        message="invalid syntax",
        frames=[ErrorFrame(line=3, function="<module>", code="def f(:")],
    )
    text = render_feedback(suite(case(0, Verdict.COMPILE_ERROR, error=error)))
    assert (
        text
        == "Runtime Error\nSyntaxError: invalid syntax\n  def f(:\nLine 3 in <module> (Solution.py)"
    )


def test_compile_error_before_any_case_uses_the_detail() -> None:
    result = suite(verdict=Verdict.COMPILE_ERROR, detail="SyntaxError: invalid syntax (line 3)")
    assert render_feedback(result) == "Runtime Error\nSyntaxError: invalid syntax (line 3)"


def test_errors_come_before_limits_before_wrong_answers() -> None:
    wrong, tle = case(0, Verdict.WRONG_ANSWER), case(1, Verdict.TIME_LIMIT)
    error = case(2, Verdict.RUNTIME_ERROR, error=ZERO_DIVISION)
    assert render_feedback(suite(wrong, tle, error)).startswith("Runtime Error\n")
    assert render_feedback(suite(wrong, tle)) == "Time Limit Exceeded\n\nLast Executed Input\nin1"


def test_each_limit_has_its_heading() -> None:
    for verdict, heading in [
        (Verdict.MEMORY_LIMIT, "Memory Limit Exceeded"),
        (Verdict.OUTPUT_LIMIT, "Output Limit Exceeded"),
    ]:
        text = render_feedback(suite(case(0, Verdict.ACCEPTED), case(3, verdict)))
        assert text == f"{heading}\n\nLast Executed Input\nin3"


def test_format_error_and_truncation() -> None:
    result = suite(verdict=Verdict.FORMAT_ERROR)
    assert render_feedback(result) == FORMAT_MESSAGE
    assert render_feedback(result, truncated=True) == TRUNCATED_MESSAGE


def test_a_response_cut_inside_its_code_is_named_as_cut_with_where_it_ends() -> None:
    syntax = ProgramError(type="SyntaxError", message="'(' was never closed")
    cut = suite(case(0, Verdict.COMPILE_ERROR, error=syntax))
    code = "def add(a, b):\n    return (a +"
    text = render_feedback(cut, truncated=True, code=code)
    assert text.startswith(TRUNCATED_MESSAGE)
    assert text.endswith("Your code was cut after line 2:\n    return (a +")
    assert "SyntaxError" not in text
    assert "SyntaxError" in render_feedback(cut, truncated=False, code=code)


def test_a_cut_after_complete_code_is_judged_on_its_tests() -> None:
    """Prose cut after a closed block: the program ran, so its test results are the feedback."""
    wrong = suite(case(0, Verdict.WRONG_ANSWER))
    assert render_feedback(wrong, truncated=True, code="x = 1") == render_feedback(wrong)


@given(code=st.text(max_size=300))
def test_a_cut_in_code_always_says_truncated_and_quotes_the_codes_last_line(code: str) -> None:
    text = render_feedback(suite(verdict=Verdict.COMPILE_ERROR), truncated=True, code=code)
    assert text.startswith(TRUNCATED_MESSAGE)
    assert len(text) <= DEFAULT_CAPS.total_chars
    if code.strip():
        last = code.rstrip().split("\n")[-1][: DEFAULT_CAPS.line_chars - 3]
        assert last in text


def test_wrong_answers_shortest_first_at_most_two() -> None:
    result = suite(
        case(0, Verdict.WRONG_ANSWER, input_excerpt="long", input_chars=900, actual_chars=1),
        case(1, Verdict.WRONG_ANSWER, input_excerpt="mid", input_chars=5, actual_chars=5),
        case(2, Verdict.ACCEPTED),
        case(3, Verdict.WRONG_ANSWER, input_excerpt="1 2\n3", input_chars=5, actual_chars=1),
    )
    assert render_feedback(result) == (
        "Test Case 4: Wrong Answer\nInput\n1 2\n3\nOutput\n5\nExpected\n4\n\n"
        "Test Case 2: Wrong Answer\nInput\nmid\nOutput\n5\nExpected\n4"
    )


def test_input_and_value_caps() -> None:
    many_lines = "\n".join(["x" * 400, *(str(i) for i in range(11))])
    result = suite(
        case(
            0,
            Verdict.WRONG_ANSWER,
            input_excerpt=many_lines,
            actual_excerpt="a" * 600,
            expected_excerpt="b" * 251,
        )
    )
    lines = render_feedback(result).split("\n")
    input_lines = lines[lines.index("Input") + 1 : lines.index("Output")]
    assert len(input_lines) == 9 and input_lines[-1] == "... (4 more lines)"
    assert len(input_lines[0]) == DEFAULT_CAPS.line_chars and input_lines[0].endswith("...")
    output, expected = lines[lines.index("Output") + 1], lines[lines.index("Expected") + 1]
    assert len(output) == len(expected) == DEFAULT_CAPS.value_chars
    assert output.endswith("...") and expected.endswith("...")


def test_stderr_caps() -> None:
    stderr = "\n".join(["d" * 500, *("e" * 10 for _ in range(14))])
    text = render_feedback(suite(case(0, Verdict.RUNTIME_ERROR, stderr_excerpt=stderr)))
    debug = text.split("Stderr\n", 1)[1].split("\n")
    assert len(debug) == 11 and debug[-1] == "... (5 more lines)"
    assert len(debug[0]) == DEFAULT_CAPS.debug_line_chars and debug[0].endswith("...")


# --- properties ------------------------------------------------------------------------------

# Public text never contains "#", hidden text always does: any "#" in the feedback is a leak.
public_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="#"), max_size=700)
hidden_text = st.text(max_size=40).map(lambda t: f"#HIDDEN#{t}#")
frames = st.lists(
    st.builds(ErrorFrame, line=st.integers(1, 10**6), function=public_text, code=public_text),
    max_size=5,
)
errors = st.none() | st.builds(ProgramError, type=public_text, message=public_text, frames=frames)


@st.composite
def case_results(draw: st.DrawFn, index: int) -> CaseResult:
    hidden = draw(st.booleans())
    text = hidden_text if hidden else public_text
    return CaseResult(
        index=index,
        hidden=hidden,
        verdict=draw(st.sampled_from([Verdict.ACCEPTED, Verdict.SKIPPED, *FAILURES])),
        input_excerpt=draw(text),
        expected_excerpt=draw(text),
        actual_excerpt=draw(text),
        stderr_excerpt=draw(text),
        error=draw(errors) if not hidden else ProgramError(type="#H#", message=draw(hidden_text)),
        input_chars=draw(st.integers(0, 10**6)),
        actual_chars=draw(st.integers(0, 10**6)),
    )


@st.composite
def suites(draw: st.DrawFn) -> SuiteResult:
    count = draw(st.integers(0, 8))
    cases = [draw(case_results(index)) for index in range(count)]
    verdict = Verdict.FORMAT_ERROR if not cases and draw(st.booleans()) else None
    return suite(*cases, verdict=verdict)


def public_failure(result: SuiteResult) -> bool:
    public = [c for c in result.cases if not c.hidden]
    if result.verdict is Verdict.FORMAT_ERROR:
        return True
    if result.verdict is Verdict.COMPILE_ERROR and not public:
        return True  # a compile error before any public case ran is still the program's
    return any(c.verdict in FAILURES for c in public)


@given(result=suites(), truncated=st.booleans())
def test_feedback_properties(result: SuiteResult, truncated: bool) -> None:
    text = render_feedback(result, truncated=truncated)
    assert len(text) <= DEFAULT_CAPS.total_chars
    assert "#" not in text
    assert (text == "") == (not public_failure(result))
    assert render_feedback(result, truncated=truncated) == text


@given(result=suites())
def test_feedback_ignores_hidden_cases(result: SuiteResult) -> None:
    public_only = result.model_copy(update={"cases": [c for c in result.cases if not c.hidden]})
    assert render_feedback(result) == render_feedback(public_only)


def test_whole_text_is_capped() -> None:
    wide = "\n".join("y" * 300 for _ in range(10))
    error = ProgramError(type="E", message="m" * 500, frames=ZERO_DIVISION.frames)
    result = suite(
        case(0, Verdict.RUNTIME_ERROR, error=error, input_excerpt=wide, stderr_excerpt=wide)
    )
    text = render_feedback(result)
    assert len(text) == DEFAULT_CAPS.total_chars and text.endswith("...")
