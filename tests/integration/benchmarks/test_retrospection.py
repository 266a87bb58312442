"""`python -m benchmarks.retrospection --config smoke` on the real model and the Docker
sandbox at a tiny budget: the JSON, the plot and the verdict (the wiring, not a result)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.retrospection.__main__ import main

pytestmark = [pytest.mark.model, pytest.mark.docker]


@pytest.mark.usefixtures("cpu_engine")
def test_the_smoke_config_writes_figures_per_problem_and_overall(tmp_path: Path) -> None:
    main(
        ["--config", "smoke", "--limit", "3", "--max-new-tokens", "32", "--out-dir", str(tmp_path)]
    )
    report = json.loads((tmp_path / "retrospection.json").read_text())
    summary = report["summary"]
    assert summary["problems"] >= 2 and summary["attempts"] >= 2
    assert set(summary["per_problem"]) <= set(report["problems"])
    for comparison in summary["comparisons"].values():
        gain = comparison["gain"]
        assert all(math.isfinite(gain[k]) for k in ("mean", "low", "high"))
        assert gain["low"] <= gain["mean"] <= gain["high"]
        assert 0.0 <= comparison["share_positive"] <= 1.0
    assert len(report["scored"]) == summary["attempts"]
    # Log-probabilities of real tokens: negative, finite, and the student's reference score
    # is the same for every attempt of a problem (scored once, read for each).
    for item in report["scored"]:
        assert all(item[k] < 0 for k in item if k != "problem_id")
    by_problem: dict[str, set[float]] = {}
    for item in report["scored"]:
        by_problem.setdefault(item["problem_id"], set()).add(item["reference_student"])
    assert all(len(values) == 1 for values in by_problem.values())
    assert summary["recommended"] in ("sdpo", "best_of_k")
    assert "Recommended strategy" in summary["verdict"]
    assert (tmp_path / "retrospection.png").read_bytes()[:4] == b"\x89PNG"
