"""From scored attempts to the probe's figures and verdict (pure).

Every figure is a difference of mean log-probabilities per token of the same tokens, so it is
also the mean per-token difference. Attempts are averaged within their problem first, and the
interval is over problems: a problem with many failing attempts counts once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.probe.stats import Estimate, bootstrap_mean, share_above_zero
from service.solver.strategies import StrategyName


@dataclass(frozen=True)
class Scored:
    """One failing attempt: the mean log-prob per token of the problem's reference solution
    and of the attempt's own response, under each of the three prompts."""

    problem_id: str
    reference_student: float
    reference_teacher: float
    reference_control: float
    attempt_student: float
    attempt_teacher: float
    attempt_control: float


# name -> what it measures, for an attempt
COMPARISONS: dict[str, Callable[[Scored], float]] = {
    "reference_teacher_minus_student": lambda s: s.reference_teacher - s.reference_student,
    "reference_teacher_minus_control": lambda s: s.reference_teacher - s.reference_control,
    "attempt_teacher_minus_student": lambda s: s.attempt_teacher - s.attempt_student,
    "attempt_teacher_minus_control": lambda s: s.attempt_teacher - s.attempt_control,
}


@dataclass(frozen=True)
class Comparison:
    """One difference: its mean over problems with an interval, and the share of attempts
    where it is positive."""

    gain: Estimate
    share_positive: float


class Reading(StrEnum):
    """What the probe concludes about the self-teacher on the reference solutions."""

    KNOWS_BETTER = "knows_better"
    KNOWS_WORSE = "knows_worse"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Summary:
    """The probe's figures over every problem, per problem, and its verdict."""

    problems: int
    attempts: int
    comparisons: dict[str, Comparison]
    per_problem: dict[str, dict[str, float]]
    reading: Reading
    recommended: StrategyName
    verdict: str


def summarize(scored: Sequence[Scored], *, confidence: float = 0.95, seed: int = 0) -> Summary:
    """Every comparison with its interval over problems, and the verdict they support."""
    if not scored:
        raise ValueError("no failing attempts were scored")
    per_problem = _per_problem(scored)
    comparisons = {
        name: Comparison(
            gain=bootstrap_mean(
                [means[name] for means in per_problem.values()], confidence=confidence, seed=seed
            ),
            share_positive=share_above_zero([measure(s) for s in scored]),
        )
        for name, measure in COMPARISONS.items()
    }
    reading = read(comparisons["reference_teacher_minus_student"].gain)
    recommended: StrategyName = "sdpo" if reading is Reading.KNOWS_BETTER else "best_of_k"
    return Summary(
        problems=len(per_problem),
        attempts=len(scored),
        comparisons=comparisons,
        per_problem=per_problem,
        reading=reading,
        recommended=recommended,
        verdict=verdict_text(reading, comparisons, recommended),
    )


def _per_problem(scored: Sequence[Scored]) -> dict[str, dict[str, float]]:
    groups: defaultdict[str, list[Scored]] = defaultdict(list)
    for item in scored:
        groups[item.problem_id].append(item)
    return {
        problem: {
            "attempts": float(len(items)),
            **{name: sum(map(f, items)) / len(items) for name, f in COMPARISONS.items()},
        }
        for problem, items in groups.items()
    }


def read(gain: Estimate) -> Reading:
    """Better or worse only when the interval excludes zero."""
    if gain.low > 0:
        return Reading.KNOWS_BETTER
    if gain.high < 0:
        return Reading.KNOWS_WORSE
    return Reading.UNCLEAR


def verdict_text(
    reading: Reading, comparisons: dict[str, Comparison], recommended: StrategyName
) -> str:
    """The short verdict a user reads before choosing a strategy."""
    gain = comparisons["reference_teacher_minus_student"].gain
    control = comparisons["reference_teacher_minus_control"].gain
    level = f"{gain.confidence:.0%}"
    figure = (
        f"{gain.mean:+.3f} nats per token on the reference solutions "
        f"[{gain.low:+.3f}, {gain.high:+.3f}] over {gain.n} problems"
    )
    head = {
        Reading.KNOWS_BETTER: f"The self-teacher knows better than the student at {level}",
        Reading.KNOWS_WORSE: f"The self-teacher knows worse than the student at {level}",
        Reading.UNCLEAR: f"Whether the self-teacher knows better cannot be told at {level}",
    }[reading]
    informed = (
        "the feedback carries information (it beats another problem's feedback)"
        if control.low > 0
        else "the feedback does no better than another problem's feedback"
    )
    return f"{head}: {figure}; {informed}. Recommended strategy: {recommended}."
