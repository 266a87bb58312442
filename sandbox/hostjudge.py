"""Judging a host-compiled assert case from its probes, in the order its statements stand.

Python stops a test at its first failing statement; so does this: an assert that fails on the
probes that did report decides the case even if the case later ran out of time, an assignment
whose call raised fails the case there (whether or not any assert names it), and a probe that
never reported leaves the case to its limit verdict (or a runtime error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.asserts import Check, CompiledAssert
from sandbox.hostexpr import (
    CheckBudget,
    Compare,
    HostEvalError,
    Node,
    Probe,
    ProbeFailed,
    ProbeMissing,
    ProbeOutcome,
    evaluate,
    safe_repr,
)

Status = Literal["passed", "failed", "error", "incomplete"]


@dataclass(frozen=True)
class CheckOutcome:
    """How the case's checks came out, with the check that decided it and what it saw."""

    status: Status
    check: Check | None = None
    error: Mapping[str, Any] | None = None
    actual: str = ""
    expected: str = ""


def judge_checks(
    compiled: CompiledAssert,
    probes: Mapping[int, ProbeOutcome],
    budget: CheckBudget | None = None,
) -> CheckOutcome:
    """Evaluate each check in order on the probes' outcomes, all within one budget."""
    budget = budget or CheckBudget()
    for check in compiled.checks:
        try:
            held = bool(evaluate(check.test, probes, budget)) or check.kind == "run"
        except ProbeMissing:
            return CheckOutcome("incomplete", check)
        except ProbeFailed as failed:
            return CheckOutcome("error", check, failed.error)
        except HostEvalError as exc:
            return CheckOutcome("error", check, _host_error(exc))
        if not held:
            actual, expected = _sides(check.test, probes, budget)
            return CheckOutcome("failed", check, actual=actual, expected=expected)
    return CheckOutcome("passed")


def _host_error(exc: HostEvalError) -> dict[str, Any]:
    kind, _, message = str(exc).partition(": ")
    if not message:
        kind, message = "TypeError", str(exc)
    return {"type": kind, "message": message, "frames": []}


def _sides(test: Node, probes: Mapping[int, ProbeOutcome], budget: CheckBudget) -> tuple[str, str]:
    """What the program gave and what was expected, when the check compares two things."""
    if not isinstance(test, Compare) or len(test.ops) != 1:
        return "", ""
    left, right = test.left, test.rights[0]
    if _has_probe(right) and not _has_probe(left):
        left, right = right, left
    try:
        return safe_repr(evaluate(left, probes, budget)), safe_repr(evaluate(right, probes, budget))
    except (HostEvalError, ProbeMissing, ProbeFailed):
        return "", ""


def _has_probe(node: Node) -> bool:
    if isinstance(node, Probe):
        return True
    children = [getattr(node, name, None) for name in ("left", "right", "operand")]
    children += [*getattr(node, "rights", ()), *getattr(node, "values", ())]
    children += [*getattr(node, "args", ()), *getattr(node, "elements", ())]
    children += [value for _, value in getattr(node, "kwargs", ())]
    return any(_has_probe(child) for child in children if child is not None)
