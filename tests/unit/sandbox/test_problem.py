"""The Problem contract: valid problems load, and invalid ones are refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.problem import (
    AssertTests,
    Compare,
    CompareMode,
    FunctionalTests,
    Problem,
    StdioCase,
    StdioTests,
)


def make_problem(**tests_overrides: Any) -> dict[str, Any]:
    tests: dict[str, Any] = {
        "kind": "functional",
        "entry_point": "f",
        "public": [{"args": [1], "expected": 2}],
    }
    tests.update(tests_overrides)
    return {"title": "t", "statement": "s", "tests": tests}


def error_locations(data: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as info:
        Problem.model_validate(data)
    return [error["loc"] for error in info.value.errors()]


def test_valid_problem_and_defaults() -> None:
    problem = Problem.model_validate(make_problem())
    assert isinstance(problem.tests, FunctionalTests)
    assert problem.tests.compare == Compare(mode=CompareMode.TOKENS)
    assert problem.tests.hidden == []
    assert problem.time_limit_s == 2.0 and problem.memory_limit_mb == 256
    assert problem.tests.cases("public") == problem.tests.public


def test_kinds_pick_their_case_models() -> None:
    stdio = Problem.model_validate(
        {"title": "t", "statement": "s", "tests": {"kind": "stdio", "public": [{"output": "1"}]}}
    )
    assert isinstance(stdio.tests, StdioTests)
    assert stdio.tests.public == [StdioCase(input="", output="1")]
    asserts = make_problem(kind="assert", entry_point=None, public=[{"code": "assert True"}])
    assert isinstance(Problem.model_validate(asserts).tests, AssertTests)


def test_functional_without_entry_point_names_it() -> None:
    data = make_problem()
    del data["tests"]["entry_point"]
    assert any("entry_point" in loc for loc in error_locations(data))


@pytest.mark.parametrize("entry_point", ["", "1f", "a.b.c", "f()", "Solution."])
def test_bad_entry_point_names_it(entry_point: str) -> None:
    assert any(
        "entry_point" in loc for loc in error_locations(make_problem(entry_point=entry_point))
    )


def test_unknown_kind_names_it() -> None:
    locations = error_locations(make_problem(kind="interactive"))
    assert any(loc[:1] == ("tests",) for loc in locations)
    with pytest.raises(ValidationError, match="kind|discriminator|tag"):
        Problem.model_validate(make_problem(kind="interactive"))


def test_empty_public_list_names_it() -> None:
    assert any("public" in loc for loc in error_locations(make_problem(public=[])))


def test_unknown_field_is_refused() -> None:
    data = make_problem()
    data["tests"]["public"][0]["expexted"] = 3
    assert any("expexted" in loc for loc in error_locations(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("statement", ""),
        ("time_limit_s", 0),
        ("time_limit_s", 61),
        ("memory_limit_mb", 16),
        ("language", "cobol"),
    ],
)
def test_top_level_limits_name_the_field(field: str, value: Any) -> None:
    data = copy.deepcopy(make_problem())
    data[field] = value
    assert (field,) in error_locations(data)


def test_compare_tolerances_are_bounded() -> None:
    locations = error_locations(make_problem(compare={"mode": "float", "rel_tol": -1}))
    assert any("rel_tol" in loc for loc in locations)
    locations = error_locations(make_problem(compare={"mode": "fuzzy"}))
    assert any("mode" in loc for loc in locations)


def test_stdio_refuses_an_entry_point_and_assert_refuses_empty_code() -> None:
    stdio = make_problem(kind="stdio", public=[{"output": "1"}], entry_point="f")
    assert any("entry_point" in loc for loc in error_locations(stdio))
    asserts = make_problem(kind="assert", public=[{"code": ""}])
    assert any("code" in loc for loc in error_locations(asserts))


def test_problems_are_frozen() -> None:
    problem = Problem.model_validate(make_problem())
    with pytest.raises(ValidationError):
        problem.title = "other"  # type: ignore[misc]
