"""Limits: validation, and the deadlines derived from them."""

from __future__ import annotations

import dataclasses

import pytest

from sandbox.limits import MB, Limits
from sandbox.problem import Problem


def test_defaults_have_units_in_their_names() -> None:
    limits = Limits()
    assert (limits.time_limit_s, limits.memory_limit_mb) == (2.0, 256)
    assert limits.output_limit_bytes == 1 * MB
    assert limits.stderr_limit_bytes < limits.output_limit_bytes


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_limit_s": 0.0}, "time_limit_s=0.0"),
        ({"time_limit_s": -1.0}, "time_limit_s=-1.0"),
        ({"memory_limit_mb": 15}, "memory_limit_mb=15"),
    ],
)
def test_too_small_limits_are_refused_naming_the_value(
    overrides: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**overrides)  # type: ignore[arg-type]


def test_limits_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Limits().time_limit_s = 5.0  # type: ignore[misc]


def test_case_wall_limit_scales_cpu_time_with_slack() -> None:
    assert Limits(time_limit_s=2.0, wall_factor=3.0).case_wall_limit_s == 7.0
    assert Limits(time_limit_s=0.5, wall_factor=2.0).case_wall_limit_s == 2.0


def test_attempt_wall_limit_covers_every_case_up_to_the_suite_limit() -> None:
    limits = Limits(time_limit_s=1.0, wall_factor=3.0, suite_wall_limit_s=60.0)
    assert limits.attempt_wall_limit_s(1) == 4.0 + 10.0
    assert limits.attempt_wall_limit_s(5) == 20.0 + 10.0
    assert limits.attempt_wall_limit_s(1000) == 60.0 + 4.0 + 10.0
    assert limits.attempt_wall_limit_s(1) > limits.case_wall_limit_s


@pytest.mark.parametrize("time_limit_s", [0.5, 2.0, 5.0, 60.0])
@pytest.mark.parametrize("n_cases", [1, 2, 30, 1000])
def test_the_attempt_deadline_never_cuts_the_last_case_the_harness_may_start(
    time_limit_s: float, n_cases: int
) -> None:
    """The harness starts cases until the suite limit, and each may run its whole wall limit:
    the outer deadline must leave room for that, or a slow program becomes a sandbox error."""
    limits = Limits(time_limit_s=time_limit_s, suite_wall_limit_s=20.0)
    # Every earlier case took at most its wall limit, and none starts after the suite limit.
    latest_start_s = min((n_cases - 1) * limits.case_wall_limit_s, limits.suite_wall_limit_s)
    assert limits.attempt_wall_limit_s(n_cases) > latest_start_s + limits.case_wall_limit_s


def test_for_problem_takes_time_and_memory_from_the_problem() -> None:
    problem = Problem.model_validate(
        {
            "title": "t",
            "statement": "s",
            "time_limit_s": 0.5,
            "memory_limit_mb": 64,
            "tests": {"kind": "stdio", "public": [{"output": "1"}]},
        }
    )
    base = Limits(output_limit_bytes=1000, wall_factor=2.0)
    limits = Limits.for_problem(problem, base)
    assert (limits.time_limit_s, limits.memory_limit_mb) == (0.5, 64)
    assert (limits.output_limit_bytes, limits.wall_factor) == (1000, 2.0)
    assert base.time_limit_s == 2.0  # the base is left as it was
    assert Limits.for_problem(problem).tmpfs_mb == Limits().tmpfs_mb
