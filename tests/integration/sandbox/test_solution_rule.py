"""The default extraction judges the solution: the model's own top-level tests are not run."""

from __future__ import annotations

from sandbox import Sandbox
from sandbox.extract import Extraction
from sandbox.problem import AssertCase, AssertTests, FunctionalCase, FunctionalTests, Problem
from sandbox.results import Verdict

SQUARE = Problem(
    title="square",
    statement="Return n squared.",
    tests=FunctionalTests(
        entry_point="square", public=[FunctionalCase(args=[3], expected=9)], hidden=[]
    ),
)
MBPP_STYLE = Problem(
    title="square",
    statement="Return n squared.",
    tests=AssertTests(public=[AssertCase(code="assert square(4) == 16")]),
)
RIGHT_WITH_A_WRONG_INVENTED_ASSERT = """Here is the function:
```python
def square(n):
    return n * n

# Example usage
assert square(3) == 6
print(square(5))
if __name__ == "__main__":
    print(square(int(input())))
```"""
WRONG_WITH_DEMOS = """```python
def square(n):
    return n + n

print(square(2))
```"""


def test_a_right_function_is_accepted_despite_its_wrong_invented_assert(
    any_sandbox: Sandbox,
) -> None:
    for problem in (SQUARE, MBPP_STYLE):
        result = any_sandbox.run_suite(RIGHT_WITH_A_WRONG_INVENTED_ASSERT, problem, "all")
        assert result.verdict is Verdict.ACCEPTED, result
        solution = any_sandbox.extract(RIGHT_WITH_A_WRONG_INVENTED_ASSERT, problem)
        assert solution is not None and "assert square(3) == 6" in solution.dropped


def test_the_runnable_rule_still_runs_the_invented_assert(any_sandbox: Sandbox) -> None:
    runnable = Sandbox(any_sandbox.backend, extraction=Extraction.RUNNABLE)
    result = runnable.run_suite(RIGHT_WITH_A_WRONG_INVENTED_ASSERT, SQUARE, "all")
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_a_wrong_function_gets_the_real_tests_verdict(any_sandbox: Sandbox) -> None:
    result = any_sandbox.run_suite(WRONG_WITH_DEMOS, SQUARE, "all")
    assert result.verdict is Verdict.WRONG_ANSWER
    assert result.cases[0].expected_excerpt == "9" and result.cases[0].actual_excerpt == "6"
