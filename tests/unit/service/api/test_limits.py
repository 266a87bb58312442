"""The configured ceilings on a job's budget: the only ones, each naming its field."""

from __future__ import annotations

import pytest

from service.api.limits import check_limits
from service.config import LimitSettings
from service.errors import InvalidRequest
from service.solver.budget import Budget


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"max_attempts": 4097}, "budget.max_attempts"),
        ({"attempts_per_round": 65, "max_attempts": 1000}, "budget.attempts_per_round"),
        ({"max_seconds": 24 * 3600.0 + 1}, "budget.max_seconds"),
        ({"max_rounds": 4097}, "budget.max_rounds"),
    ],
)
def test_the_configured_ceilings_are_the_only_ones_and_name_the_field(fields, field):
    budget = Budget(**fields)  # structurally fine: the model has no ceilings of its own
    with pytest.raises(InvalidRequest) as info:
        check_limits(budget, LimitSettings())
    assert info.value.field == field
    check_limits(
        budget, LimitSettings(max_attempts=10**6, max_attempts_per_round=10**6, max_seconds=10**9)
    )
