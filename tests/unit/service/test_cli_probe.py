"""`retrospect probe` bad input: a clear message and exit code 2, before any model loads."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app

RUNNER = CliRunner()
EXAMPLES = Path(__file__).parents[3] / "examples"


def test_probe_rejects_a_missing_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["probe", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "nope.jsonl" in result.output


def test_probe_needs_two_problems_with_references(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "sum_evens.json", tmp_path)
    shutil.copy(EXAMPLES / "sum_evens.solution.py", tmp_path)
    shutil.copy(EXAMPLES / "two_sum_stdio.json", tmp_path)  # no reference beside it
    result = RUNNER.invoke(app, ["probe", str(tmp_path)])
    assert result.exit_code == 2
    assert "at least 2 problems with reference solutions; found 1" in result.output


def test_probe_refuses_out_of_range_options() -> None:
    result = RUNNER.invoke(app, ["probe", str(EXAMPLES), "--attempts", "0"])
    assert result.exit_code == 2
    assert "--attempts" in result.output
