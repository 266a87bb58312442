"""The live view: one readable line per event."""

from __future__ import annotations

from sandbox import Verdict
from service.progress import describe
from service.solver.budget import BudgetLeft
from service.solver.events import AttemptFinished, JobSucceeded, LearnerStep, RoundStarted

STAMP = {"attempts_used": 3, "budget_left": BudgetLeft(attempts=5, seconds=120.0)}


def test_each_event_reads_as_one_line_with_its_budget() -> None:
    lines = [
        describe(RoundStarted(**STAMP, round=1, attempts=4)),
        describe(
            AttemptFinished(**STAMP, index=2, verdict=Verdict.WRONG_ANSWER, passed=1, total=3)
        ),
        describe(LearnerStep(**STAMP, round=1, loss=0.5, kl=0.25, grad_norm=0.1, seconds=2.0)),
        describe(JobSucceeded(**STAMP, attempt=2, solution="def f(): pass")),
    ]
    assert "round 1" in lines[0] and "5 left" in lines[0]
    assert "attempt 2" in lines[1] and "wrong_answer" in lines[1] and "1/3" in lines[1]
    assert "loss 0.5000" in lines[2]
    assert "attempt 2" in lines[3]
    assert all("\n" not in line for line in lines)
