"""HumanEval-style references pass through each backend, judged where the test's shape allows
on the host, and a mutant of each fails: host judging rejects no honest program."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import Sandbox, Verdict
from sandbox.importers import load_with_references

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

STYLE_PATH = Path(__file__).parents[2] / "unit" / "sandbox" / "data" / "humaneval_style.jsonl"
MUTANT_SUFFIX = (
    "\n\n_original = {name}\n\ndef {name}(*args):\n    return ('mutated', _original(*args))\n"
)


def test_humaneval_style_references_pass_and_mutants_fail(any_sandbox: Sandbox) -> None:
    problems = load_with_references(STYLE_PATH)
    assert len(problems) == 10
    for imported in problems:
        name = imported.problem.tests.entry_point or ""
        result = any_sandbox.run_suite(imported.reference or "", imported.problem)
        assert result.verdict is Verdict.ACCEPTED, (imported.source_id, result.model_dump())
        mutant = (imported.reference or "") + MUTANT_SUFFIX.format(name=name)
        assert not any_sandbox.run_suite(mutant, imported.problem).accepted, imported.source_id
    judged = [any_sandbox.run_suite(p.reference or "", p.problem).cases[0].judged for p in problems]
    assert judged.count("host") == 8


EXAMPLES = Path(__file__).parents[3] / "examples"


def test_every_example_reference_is_accepted(any_sandbox: Sandbox) -> None:
    """Every format the service takes (stdio reading all of stdin, float output, functional,
    HumanEval, MBPP) with its reference solution."""
    examples = [
        item for path in sorted(EXAMPLES.glob("*.json")) for item in load_with_references(path)
    ]
    assert len(examples) >= 6
    for imported in examples:
        result = any_sandbox.run_suite(imported.reference or "", imported.problem, "all")
        assert result.verdict is Verdict.ACCEPTED, (imported.source_id, result.model_dump())
