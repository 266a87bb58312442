"""`python -m benchmarks.discovery` end to end on the real model and the Docker sandbox, at a
tiny budget: screening, a run per strategy, the JSON and the plot (the wiring, not a result)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.discovery.__main__ import main
from service.config import get_settings
from tests.integration.sandbox.conftest import docker_ready

pytestmark = [pytest.mark.model, pytest.mark.docker]


def test_a_tiny_benchmark_writes_its_report_and_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("RETROSPECT_ENGINE__DEVICE", "cpu")
    get_settings.cache_clear()
    args = ["--config", "smoke", "--limit", "1", "--max-attempts", "2"]
    args += ["--attempts-per-round", "2", "--max-new-tokens", "32", "--seeds", "1"]
    args += ["--select-hard", "--screen-samples", "2", "--hard-threshold", "1.01"]
    try:
        main([*args, "--out-dir", str(tmp_path)])
    finally:
        get_settings.cache_clear()
    report = json.loads((tmp_path / "discovery.json").read_text())
    assert report["problems"]["screening"][0]["reference_ok"] is True
    assert report["problems"]["selected"] == [report["problems"]["screening"][0]["problem"]]
    assert set(report["strategies"]) == {"sdpo", "best_of_k", "multi_turn"}
    runs = report["runs"]
    assert len(runs) == 3 and all(run["attempts_used"] in (1, 2) for run in runs)
    assert (tmp_path / "discovery.png").read_bytes()[:4] == b"\x89PNG"
