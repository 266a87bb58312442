"""Every example problem validates, has public and hidden tests, and its reference passes them.

The references are our own trusted code, so a plain in-process runner checks them here; the
sandbox's integration tests judge the same files for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.compare import outputs_match, values_match
from sandbox.problem import (
    AssertCase,
    AssertTests,
    FunctionalCase,
    Problem,
    StdioCase,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROBLEM_FILES = sorted(EXAMPLES.glob("*.json"))


def solution_of(path: Path) -> Path:
    return path.with_name(path.stem + ".solution.py")


def load(path: Path) -> Problem:
    return Problem.model_validate_json(path.read_text())


def test_the_named_examples_exist() -> None:
    names = {path.name for path in PROBLEM_FILES}
    assert {"two_sum_stdio.json", "sum_evens.json"} <= names
    assert solution_of(EXAMPLES / "two_sum_stdio.json").is_file()
    kinds = {(load(p).tests.kind.value, load(p).tests.compare.mode.value) for p in PROBLEM_FILES}
    assert {kind for kind, _ in kinds} == {"stdio", "functional", "assert"}
    assert ("stdio", "float") in kinds


def test_examples_cover_method_check_and_plain_asserts() -> None:
    problems = [load(path) for path in PROBLEM_FILES]
    entry_points = {p.tests.entry_point for p in problems}
    assert any(e and "." in e for e in entry_points)
    assert_codes = [
        c.code for p in problems if isinstance(p.tests, AssertTests) for c in p.tests.public
    ]
    assert any("def check(candidate)" in code for code in assert_codes)
    assert any(code.startswith("assert ") for code in assert_codes)


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=lambda p: p.name)
def test_example_validates_with_public_and_hidden_tests(path: Path) -> None:
    problem = load(path)
    assert problem.tests.public and problem.tests.hidden
    assert Problem.model_validate_json(problem.model_dump_json()) == problem
    assert solution_of(path).is_file()


@pytest.mark.parametrize("path", PROBLEM_FILES, ids=lambda p: p.name)
def test_reference_solution_passes_every_case(path: Path) -> None:
    problem, program = load(path), solution_of(path).read_text()
    for split in ("public", "hidden"):
        for case in problem.tests.cases(split):
            assert passes(problem, program, case), f"{path.name} {split} {case}"


def passes(problem: Problem, program: str, case: object) -> bool:
    tests = problem.tests
    if isinstance(case, StdioCase):
        run = subprocess.run(
            [sys.executable, "-c", program],
            input=case.input,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return run.returncode == 0 and outputs_match(case.output, run.stdout, tests.compare)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(program, namespace)
    if isinstance(case, FunctionalCase):
        assert tests.entry_point is not None
        result = call(namespace, tests.entry_point, case)
        return values_match(case.expected, json.loads(json.dumps(result)), tests.compare)
    assert isinstance(case, AssertCase)
    exec(case.code, namespace)
    if "check" in namespace:
        assert tests.entry_point is not None
        namespace["check"](namespace[tests.entry_point])
    return True


def call(namespace: dict[str, Any], entry_point: str, case: FunctionalCase) -> Any:
    owner, _, method = entry_point.rpartition(".")
    target = getattr(namespace[owner](), method) if owner else namespace[method]
    return target(*case.args, **case.kwargs)
