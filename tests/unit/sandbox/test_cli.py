"""The sandbox CLI: bad input exits 2 naming the problem; good input prints SuiteResult JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.backends.process import bwrap_available
from sandbox.cli import app

PROBLEM: dict[str, Any] = {
    "title": "sum",
    "statement": "print a+b",
    "tests": {"kind": "stdio", "public": [{"input": "2 3\n", "output": "5"}]},
}
RIGHT = "a, b = map(int, input().split())\nprint(a + b)\n"
WRONG = "print(6)\n"


def write(path: Path, content: str | dict[str, Any]) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, ["run", *map(str, args)])


def test_a_missing_problem_file_exits_2(tmp_path: Path) -> None:
    program = write(tmp_path / "s.py", RIGHT)
    result = invoke("--problem", tmp_path / "absent.json", "--program", program)
    assert result.exit_code == 2
    assert "--problem" in result.output
    assert "absent.json" in result.output
    assert "cannot read" in result.output


def test_a_missing_program_file_exits_2(tmp_path: Path) -> None:
    problem = write(tmp_path / "p.json", PROBLEM)
    result = invoke("--problem", problem, "--program", tmp_path / "absent.py")
    assert result.exit_code == 2
    assert "--program" in result.output
    assert "absent.py" in result.output


def test_invalid_json_exits_2(tmp_path: Path) -> None:
    problem = write(tmp_path / "p.json", '{"title": "t", ')
    result = invoke("--problem", problem, "--program", write(tmp_path / "s.py", RIGHT))
    assert result.exit_code == 2
    assert "Invalid JSON" in result.output


def test_a_validation_error_names_the_field(tmp_path: Path) -> None:
    functional = {**PROBLEM, "tests": {"kind": "functional", "public": [{"args": [1]}]}}
    problem = write(tmp_path / "p.json", functional)
    result = invoke("--problem", problem, "--program", write(tmp_path / "s.py", RIGHT))
    assert result.exit_code == 2
    assert "tests.functional.entry_point" in result.output
    assert "Field required" in result.output


@pytest.mark.parametrize("flag", [["--backend", "podman"], ["--split", "secret"]])
def test_a_bad_choice_exits_2(tmp_path: Path, flag: list[str]) -> None:
    problem = write(tmp_path / "p.json", PROBLEM)
    result = invoke("--problem", problem, "--program", write(tmp_path / "s.py", RIGHT), *flag)
    assert result.exit_code == 2
    assert flag[1] in result.output


def test_a_missing_program_option_exits_2(tmp_path: Path) -> None:
    result = invoke("--problem", write(tmp_path / "p.json", PROBLEM))
    assert result.exit_code == 2
    assert "--program" in result.output


@pytest.mark.bwrap
def test_several_programs_print_a_json_array_in_order(tmp_path: Path) -> None:
    if not bwrap_available():
        pytest.skip("bubblewrap or /usr/bin/python3 missing")
    problem = write(tmp_path / "p.json", PROBLEM)
    fenced = write(tmp_path / "fenced.md", f"Here it is:\n```python\n{RIGHT}```\n")
    programs = [write(tmp_path / "wrong.py", WRONG), fenced, write(tmp_path / "right.py", RIGHT)]
    flags = [part for path in programs for part in ("--program", str(path))]
    result = CliRunner().invoke(
        app, ["run", "--problem", str(problem), *flags, "--backend", "process"]
    )
    assert result.exit_code == 0, result.output
    verdicts = [r["verdict"] for r in json.loads(result.stdout)]
    assert verdicts == ["wrong_answer", "accepted", "accepted"]


@pytest.mark.bwrap
def test_one_program_prints_one_object(tmp_path: Path) -> None:
    if not bwrap_available():
        pytest.skip("bubblewrap or /usr/bin/python3 missing")
    problem = write(tmp_path / "p.json", PROBLEM)
    program = write(tmp_path / "s.py", RIGHT)
    result = invoke("--problem", problem, "--program", program, "--backend", "process")
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["verdict"] == "accepted"
    assert (parsed["passed"], parsed["total"]) == (1, 1)
