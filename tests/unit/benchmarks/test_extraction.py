"""The extraction benchmark's judging and summary, with a fake sandbox."""

from __future__ import annotations

from benchmarks.extraction import Judged, judge_both, summarize
from sandbox.extract import Extraction, extract_code
from sandbox.problem import AssertCase, AssertTests, Problem
from sandbox.results import SuiteResult, Verdict
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

    def extract(self, program: str, problem: Problem) -> str | None:
        return extract_code(program, calls={"f"}, rule=self.rule)

    def run_suite(self, program: str, problem: Problem, split: str = "public") -> SuiteResult:
        self.runs += 1
        code = self.extract(program, problem)
        verdict = Verdict.ACCEPTED if code == "def f(): return True" else Verdict.COMPILE_ERROR
        return SuiteResult(verdict=verdict, passed=0, total=1)


def test_each_rule_judges_its_own_code_and_agreeing_code_is_judged_once() -> None:
    sandboxes = {rule: FakeSandbox(rule) for rule in Extraction}
    demo = "```python\ndef f(): return True\n```\nthen prose\n```\nwords and words and words\n```"
    plain = "```python\ndef f(): return True\n```"
    judged = judge_both(PROBLEM, [demo, plain], sandboxes)  # type: ignore[arg-type]
    assert judged[0].verdicts == {"longest": "compile_error", "runnable": "accepted"}
    assert judged[0].code_differs and not judged[1].code_differs
    assert judged[1].verdicts == {"longest": "accepted", "runnable": "accepted"}
    assert sandboxes[Extraction.LONGEST].runs + sandboxes[Extraction.RUNNABLE].runs == 3


def test_summary_counts_flips_and_rates_per_rule() -> None:
    judged = [
        Judged("a", {"longest": "compile_error", "runnable": "accepted"}, True),
        Judged("a", {"longest": "wrong_answer", "runnable": "wrong_answer"}, False),
        Judged("b", {"longest": "accepted", "runnable": "accepted"}, False),
        Judged("b", {"longest": "format_error", "runnable": "format_error"}, False),
    ]
    summary = summarize(judged)
    assert summary["longest"]["pass_rate"] == 0.25 and summary["runnable"]["pass_rate"] == 0.5
    assert summary["fail_to_pass"] == 1 and summary["pass_to_fail"] == 0
    assert summary["code_differs"] == 1
    assert summary["runnable"]["problems_solved"] == 2
    assert summary["longest"]["verdicts"]["compile_error"] == 1
