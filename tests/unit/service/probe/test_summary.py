"""The probe's figures and verdict from scored attempts (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.probe.stats import Estimate
from service.probe.summary import COMPARISONS, Reading, Scored, read, summarize


def scored(problem: str, *, gain: float, control_gain: float = 0.0, attempt: float = 0.0) -> Scored:
    """An attempt whose teacher beats its student by `gain` nats per token on the reference."""
    return Scored(
        problem_id=problem,
        reference_student=-1.0,
        reference_teacher=-1.0 + gain,
        reference_control=-1.0 + gain - control_gain,
        attempt_student=-2.0,
        attempt_teacher=-2.0 + attempt,
        attempt_control=-2.0,
    )


def test_a_teacher_better_on_every_problem_recommends_sdpo() -> None:
    items = [scored(f"p{i}", gain=0.1 + 0.01 * i, control_gain=0.05) for i in range(8)]
    summary = summarize(items)
    assert summary.reading is Reading.KNOWS_BETTER
    assert summary.recommended == "sdpo"
    assert "knows better" in summary.verdict and "carries information" in summary.verdict
    assert summary.comparisons["reference_teacher_minus_student"].share_positive == 1.0


def test_a_teacher_worse_on_every_problem_recommends_best_of_k() -> None:
    summary = summarize([scored(f"p{i}", gain=-0.07 - 0.01 * i) for i in range(8)])
    assert summary.reading is Reading.KNOWS_WORSE
    assert summary.recommended == "best_of_k"
    assert "no better than another problem's feedback" in summary.verdict


def test_mixed_signs_are_unclear() -> None:
    summary = summarize([scored(f"p{i}", gain=(-1) ** i * 0.1) for i in range(8)])
    assert summary.reading is Reading.UNCLEAR
    assert summary.recommended == "best_of_k"
    assert "cannot be told" in summary.verdict


def test_a_problem_counts_once_however_many_attempts_it_has() -> None:
    many = [scored("a", gain=1.0) for _ in range(9)]
    summary = summarize([*many, scored("b", gain=-1.0)])
    gain = summary.comparisons["reference_teacher_minus_student"].gain
    assert gain.mean == pytest.approx(0.0) and gain.n == 2
    assert summary.comparisons["reference_teacher_minus_student"].share_positive == 0.9
    assert summary.per_problem["a"]["attempts"] == 9


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.floats(-3, 3)), min_size=1, max_size=20))
def test_each_figure_is_the_mean_over_problems_of_their_attempt_means(
    rows: list[tuple[str, float]],
) -> None:
    items = [scored(p, gain=g, attempt=g / 2) for p, g in rows]
    summary = summarize(items)
    for name, measure in COMPARISONS.items():
        by_problem: dict[str, list[float]] = {}
        for item in items:
            by_problem.setdefault(item.problem_id, []).append(measure(item))
        expected = sum(sum(v) / len(v) for v in by_problem.values()) / len(by_problem)
        assert summary.comparisons[name].gain.mean == pytest.approx(expected, abs=1e-9)


def test_read_needs_the_interval_to_exclude_zero() -> None:
    assert read(Estimate(0.1, 0.01, 0.2, 5, 0.95)) is Reading.KNOWS_BETTER
    assert read(Estimate(-0.1, -0.2, -0.01, 5, 0.95)) is Reading.KNOWS_WORSE
    assert read(Estimate(0.1, -0.01, 0.2, 5, 0.95)) is Reading.UNCLEAR


def test_nothing_scored_is_refused() -> None:
    with pytest.raises(ValueError):
        summarize([])
