"""`retrospect` bad input: a clear message naming the problem, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app

RUNNER = CliRunner()
EXAMPLE = Path(__file__).parents[3] / "examples" / "sum_evens.json"


def test_solve_rejects_a_missing_problem_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["solve", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_solve_names_the_invalid_field(tmp_path: Path) -> None:
    problem = json.loads(EXAMPLE.read_text())
    del problem["tests"]["entry_point"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(problem))
    result = RUNNER.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2
    assert "entry_point" in result.output


def test_solve_rejects_an_unknown_strategy() -> None:
    result = RUNNER.invoke(app, ["solve", str(EXAMPLE), "--strategy", "guess"])
    assert result.exit_code == 2
    assert "--strategy" in result.output


def test_solve_rejects_a_bad_budget() -> None:
    result = RUNNER.invoke(app, ["solve", str(EXAMPLE), "--max-attempts", "0"])
    assert result.exit_code == 2
    assert "max_attempts" in result.output
