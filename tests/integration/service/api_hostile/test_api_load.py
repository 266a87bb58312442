"""`python -m benchmarks.api_load` at a tiny size: every phase against the baseline app and a
real `retrospect api` on SQLite and Postgres completes without errors and reports its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.postgres
def test_the_load_benchmark_runs_small_on_both_databases(tmp_path: Path) -> None:
    out = tmp_path / "api_load.json"
    args = ["--submits", "6", "--streams", "8", "--reads", "20", "--read-concurrency", "4"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_load", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"baseline", "sqlite", "postgres"}
    for name, result in results.items():
        for operation, expected in [("submit", 6), ("stream", 8), ("read", 20)]:
            row = result[operation]
            assert row["ok"] == expected and row["errors"] == 0, (name, operation, row)
            assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert result["rss_peak_mib"] > 0
    assert "p99 x base" in done.stdout
    assert results["sqlite"]["vs_baseline"]["read"]["p99"] > 0
