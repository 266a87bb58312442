"""The step benchmark's pure parts: pairing, gains, the summary and the journal round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.steps.__main__ import (
    describe,
    learner_overrides,
    parse_args,
    read_journal,
    step_counts,
)
from benchmarks.steps.summary import ProblemRow, control_pairs, summarize
from service.config import SdpoParams


def row(
    problem: str, before: float, own: dict[int, float], control: dict[int, float]
) -> ProblemRow:
    return ProblemRow(problem, "other", 3, before, {"own": own, "control": control})


def test_each_problem_is_controlled_by_another_problems_round() -> None:
    assert control_pairs(["a", "b", "c"]) == {"a": "b", "b": "c", "c": "a"}
    with pytest.raises(ValueError, match="two problems"):
        control_pairs(["a"])


@given(st.lists(st.text(min_size=1, max_size=4), min_size=2, max_size=20, unique=True))
def test_no_problem_is_its_own_control(ids: list[str]) -> None:
    pairs = control_pairs(ids)
    assert set(pairs) == set(ids) and all(pairs[p] != p for p in ids)
    assert sorted(pairs.values()) == sorted(ids)


def test_the_summary_reports_gains_and_the_paired_effect_per_step_count() -> None:
    rows = [
        row("a", -1.0, {1: -0.9, 2: -0.8}, {1: -1.0, 2: -1.1}),
        row("b", -2.0, {1: -1.8, 2: -1.6}, {1: -2.1, 2: -2.0}),
    ]
    summary = summarize(rows, [1, 2])
    one, two = summary["by_steps"]["1"], summary["by_steps"]["2"]
    assert one["own_gain"]["mean"] == pytest.approx(0.15)
    assert one["control_gain"]["mean"] == pytest.approx(-0.05)
    assert two["own_minus_control"]["mean"] == pytest.approx((0.3 + 0.4) / 2)
    assert two["own_minus_control"]["low"] <= 0.3 + 1e-12 and two["share_own_above_control"] == 1
    assert "2 steps: own +0.3000" in describe(summary)


def test_rows_survive_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "rows.jsonl"
    first = row("mbpp/1", -1.5, {1: -1.25, 4: -1.0}, {1: -1.5, 4: -1.75})
    journal.write_text(json.dumps(first.to_json()) + "\n")
    (back,) = read_journal(journal)
    assert back == first and back.gain("own", 4) == 0.5
    assert read_journal(tmp_path / "missing.jsonl") == []


def test_step_counts_are_increasing_and_positive() -> None:
    assert step_counts("1,2,4") == [1, 2, 4]
    for bad in ("", "2,1", "0,1", "1,1"):
        with pytest.raises(SystemExit):
            step_counts(bad)


def test_the_command_lines_sdpo_settings_become_a_jobs_valid_overrides() -> None:
    args = parse_args(["--teacher", "frozen", "--teacher-ema-rate", "1.0", "--top-k", "50"])
    overrides = learner_overrides(args)
    assert overrides == {"teacher": "frozen", "teacher_ema_rate": 1.0, "top_k": 50}
    assert SdpoParams.model_validate(overrides).teacher_ema_rate == 1.0
    assert learner_overrides(parse_args([])) == {}
