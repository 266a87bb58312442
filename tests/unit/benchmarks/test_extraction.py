"""The extraction benchmark's judging and summary, with a fake sandbox."""

from __future__ import annotations

from benchmarks.extraction import Judged, judge_all, summarize
from sandbox.extract import Extraction, extract_solution
from sandbox.problem import AssertCase, AssertTests, Problem
from sandbox.results import SuiteResult, Verdict
from sandbox.solution import Solution
from service.probe.attempts import ProbeProblem

PROBLEM = ProbeProblem(
    "p",
    Problem(title="t", statement="s", tests=AssertTests(public=[AssertCase(code="assert f()")])),
    "def f(): return True",
)


class FakeSandbox:
    """Accepts exactly the code `def f(): return True`; counts its judgements."""

    def __init__(self, rule: Extraction) -> None:
        self.rule = rule
        self.runs = 0

    def extract(self, program: str, problem: Problem) -> Solution | None:
        return extract_solution(program, calls={"f"}, rule=self.rule)

    def run_suite(self, program: str, problem: Problem, split: str = "public") -> SuiteResult:
        self.runs += 1
        solution = self.extract(program, problem)
        accepted = solution is not None and solution.code == "def f(): return True"
        verdict = Verdict.ACCEPTED if accepted else Verdict.RUNTIME_ERROR
        return SuiteResult(verdict=verdict, passed=0, total=1)


def test_each_rule_judges_its_own_code_and_agreeing_code_is_judged_once() -> None:
    sandboxes = {rule: FakeSandbox(rule) for rule in Extraction}
    demo = "```python\ndef f(): return True\n```\nthen prose\n```\nwords and words and words\n```"
    plain = "```python\ndef f(): return True\n```"
    tested = "```python\ndef f(): return True\nassert f() == 2\n```"
    judged = judge_all(PROBLEM, [demo, plain, tested], sandboxes, [False, False, True])  # type: ignore[arg-type]
    assert judged[0].verdicts == {
        "longest": "runtime_error",
        "runnable": "accepted",
        "solution": "accepted",
    }
    assert judged[0].code_differs and not judged[1].code_differs
    assert set(judged[1].verdicts.values()) == {"accepted"}
    assert judged[2].verdicts == {
        "longest": "runtime_error",
        "runnable": "runtime_error",
        "solution": "accepted",
    }
    assert judged[2].dropped and judged[2].truncated and not judged[0].dropped
    assert sum(s.runs for s in sandboxes.values()) == 2 + 1 + 2


def test_summary_counts_changes_and_rates_per_rule() -> None:
    def judged(problem: str, longest: str, runnable: str, solution: str) -> Judged:
        verdicts = {"longest": longest, "runnable": runnable, "solution": solution}
        return Judged(problem, verdicts, len(set(verdicts.values())) > 1, solution != runnable)

    rows = [
        judged("a", "compile_error", "accepted", "accepted"),
        judged("a", "wrong_answer", "wrong_answer", "wrong_answer"),
        judged("b", "accepted", "accepted", "accepted"),
        judged("b", "runtime_error", "runtime_error", "wrong_answer"),
    ]
    summary = summarize(rows)
    assert summary["longest"]["pass_rate"] == 0.25 and summary["runnable"]["pass_rate"] == 0.5
    first, second = (
        summary["changes"]["longest->runnable"],
        summary["changes"]["runnable->solution"],
    )
    assert first["fail_to_pass"] == 1 and first["pass_to_fail"] == 0
    assert second["verdict_changes"] == {"runtime_error->wrong_answer": 1}
    assert second["fail_to_pass"] == 0
    assert summary["code_differs"] == 2 and summary["test_code_dropped"] == 1
    assert summary["runnable"]["problems_solved"] == 2
    assert summary["longest"]["verdicts"]["compile_error"] == 1
