"""`retrospect solve` end to end: the real default model, the real Docker sandbox, a tiny
best-of-k budget (it checks the wiring and the live view, not that the model solves it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from service.cli import app
from service.config import get_settings
from service.engine.catalog import QWEN_CODER_05B
from tests.integration.sandbox.conftest import docker_ready
from tests.integration.service.processes import SOLVING_SEED

pytestmark = [pytest.mark.model, pytest.mark.docker]

EXAMPLE = Path(__file__).parents[3] / "examples" / "sum_evens.json"


def solve_example(monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """`retrospect solve EXAMPLE` with a best-of-k budget of 2 attempts in one round."""
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("RETROSPECT_ENGINE__DEVICE", "cpu")
    get_settings.cache_clear()
    budget = ["--strategy", "best_of_k", "--max-attempts", "2", "--attempts-per-round", "2"]
    try:
        return CliRunner().invoke(app, ["solve", str(EXAMPLE), *budget, *args])
    finally:
        get_settings.cache_clear()


def test_solve_streams_events_and_ends_with_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    # SOLVING_SEED's first round fails: both attempts are shown.
    result = solve_example(monkeypatch, "--seed", str(SOLVING_SEED), "--max-new-tokens", "48")
    assert result.exit_code == 0, result.output
    assert "round 0" in result.output
    assert "attempt 0:" in result.output and "attempt 1:" in result.output
    assert ("solved" in result.output) or ("exhausted after 2 attempts" in result.output)


def test_solve_runs_with_the_shipped_coder_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 0.5B coder model from its registry packages, no network: it solves the example or
    says it was exhausted, with its attempts shown."""
    result = solve_example(monkeypatch, "--model", QWEN_CODER_05B.name, "--max-new-tokens", "64")
    assert result.exit_code == 0, result.output
    assert "attempt 0:" in result.output
    assert ("solved" in result.output) or ("exhausted after 2 attempts" in result.output)
