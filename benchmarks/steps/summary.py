"""The step benchmark's figures: per step count, the gain on the reference against a control.

A problem's row holds the reference's mean log-prob per token under the student prompt before
any step, and after 1, 2, 4, ... steps in two arms: `own` (steps on the problem's own failing
round) and `control` (the same number of steps on another problem's round: the same kind of
update, none of this problem's information). Gains are after - before; the effect of the
problem's own feedback is own - control, paired per problem. Intervals are percentile
bootstraps over problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from service.probe.stats import bootstrap_mean

ARMS = ("own", "control")


@dataclass(frozen=True)
class ProblemRow:
    """One problem's scores: before, and after each step count in each arm."""

    problem: str
    control_from: str  # the problem whose round the control arm learned from
    failures: int  # failing attempts with feedback in its round
    before: float  # nats/token of the reference under the base student
    after: dict[str, dict[int, float]] = field(default_factory=dict)  # arm -> steps -> score
    seconds: float = 0.0

    def gain(self, arm: str, steps: int) -> float:
        """Score after `steps` steps in `arm`, minus the score before."""
        return self.after[arm][steps] - self.before

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON (step counts as string keys)."""
        after = {arm: {str(k): v for k, v in by.items()} for arm, by in self.after.items()}
        return {**self.__dict__, "after": after}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProblemRow:
        """The inverse of `to_json`."""
        after = {arm: {int(k): v for k, v in by.items()} for arm, by in data["after"].items()}
        return cls(**{**data, "after": after})


def control_pairs(problem_ids: Sequence[str]) -> dict[str, str]:
    """Each problem's control: the next problem's round, cycling (needs two problems)."""
    if len(problem_ids) < 2:
        raise ValueError("the control needs rounds of at least two problems")
    return {p: problem_ids[(i + 1) % len(problem_ids)] for i, p in enumerate(problem_ids)}


def summarize(rows: Sequence[ProblemRow], steps: Sequence[int]) -> dict[str, Any]:
    """Per step count: each arm's mean gain and own - control, each with its 95% CI."""
    if not rows:
        raise ValueError("no problem was measured")
    out: dict[str, Any] = {"problems": len(rows), "by_steps": {}}
    for k in steps:
        own = [r.gain("own", k) for r in rows]
        control = [r.gain("control", k) for r in rows]
        effect = [a - b for a, b in zip(own, control, strict=True)]
        out["by_steps"][str(k)] = {
            "own_gain": _estimate(own),
            "control_gain": _estimate(control),
            "own_minus_control": _estimate(effect),
            "share_own_above_control": sum(e > 0 for e in effect) / len(effect),
        }
    return out


def _estimate(values: Sequence[float]) -> dict[str, float]:
    estimate = bootstrap_mean(values)
    return {"mean": estimate.mean, "low": estimate.low, "high": estimate.high}
