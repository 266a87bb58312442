"""The budget: its structural checks and the running account of a job on a fake clock (the
configured ceilings are the API's: tests/unit/service/api/test_limits.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.solver.budget import (
    Budget,
    BudgetLeft,
    BudgetUse,
    budget_left,
    default_attempts_per_round,
)
from tests.unit.service.solver.fakes import FakeClock


def field_errors(**fields) -> list[tuple[str, ...]]:
    with pytest.raises(ValidationError) as info:
        Budget(**fields)
    return [tuple(str(part) for part in error["loc"]) for error in info.value.errors()]


def test_defaults():
    budget = Budget()
    assert (budget.max_attempts, budget.attempts_per_round, budget.max_seconds) == (64, 8, 3600)
    assert default_attempts_per_round(gpu=True) == 16
    assert default_attempts_per_round(gpu=False) == 8


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"attempts_per_round": 0}, "attempts_per_round"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"max_attempts": "many"}, "max_attempts"),
        ({"max_tokens": 5}, "max_tokens"),
        ({"max_rounds": 0}, "max_rounds"),
    ],
)
def test_invalid_fields_are_named(fields, field):
    assert field_errors(**fields) == [(field,)]


def test_a_round_cannot_exceed_the_whole_budget():
    with pytest.raises(ValidationError, match=r"at most max_attempts \(4\), got 8") as info:
        Budget(max_attempts=4, attempts_per_round=8)
    assert info.value.errors()[0]["loc"] == ("attempts_per_round",)


def test_rounds_shrink_to_what_is_left_and_spending_stops_at_the_limit():
    use = BudgetUse(Budget(max_attempts=10, attempts_per_round=4), FakeClock())
    sizes: list[int] = []
    while not use.exhausted():
        assert use.start_round() == len(sizes)
        sizes.append(use.next_round_size())
        use.spend(sizes[-1])
    assert sizes == [4, 4, 2]
    assert use.left() == BudgetLeft(attempts=0, seconds=3600.0)
    with pytest.raises(ValueError, match="cannot spend 1 attempts with 0 left"):
        use.spend(1)


def test_time_counts_from_the_injected_clock_and_across_a_resume():
    clock = FakeClock()
    use = BudgetUse(Budget(max_seconds=100.0), clock, attempts_used=5, prior_seconds=30.0)
    assert use.left() == BudgetLeft(attempts=59, seconds=70.0)
    clock.advance(69.5)
    assert not use.exhausted() and use.elapsed_seconds == 99.5
    clock.advance(1.0)
    assert use.exhausted() and use.left().seconds == 0.0


def test_a_resume_beyond_the_budget_is_refused():
    with pytest.raises(ValueError, match="attempts_used"):
        BudgetUse(Budget(max_attempts=4, attempts_per_round=4), FakeClock(), attempts_used=5)


def test_a_round_limit_ends_the_budget_before_the_attempts_do():
    use = BudgetUse(Budget(max_attempts=10, attempts_per_round=2, max_rounds=3), FakeClock())
    rounds = 0
    while not use.exhausted():
        use.start_round()
        use.spend(use.next_round_size())
        rounds += 1
    assert rounds == 3 and use.attempts_used == 6
    assert use.left() == BudgetLeft(attempts=4, seconds=3600.0, rounds=0)
    assert field_errors(max_rounds=0) == [("max_rounds",)]


def test_what_is_left_is_built_in_one_place_with_rounds_when_limited():
    budget = Budget(max_attempts=10, attempts_per_round=2, max_rounds=4, max_seconds=60.0)
    assert budget_left(budget, attempts_used=0, rounds=0, elapsed_seconds=0.0) == BudgetLeft(
        attempts=10, seconds=60.0, rounds=4
    )
    assert budget_left(budget, attempts_used=12, rounds=5, elapsed_seconds=61.0) == BudgetLeft(
        attempts=0, seconds=0.0, rounds=0
    )
    unlimited = budget_left(Budget(), attempts_used=3, rounds=2, elapsed_seconds=1.5)
    assert unlimited == BudgetLeft(attempts=61, seconds=3598.5, rounds=None)
