"""`python -m benchmarks.api_load` at a tiny size: every phase against the baseline app and a
real `retrospect api` on SQLite and Postgres, each with the in-process bus and in Redis mode,
completes without errors and reports its figures (in Redis mode: a bounded number of Redis
connections with every stream open)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.bus.redis_bus import MAX_PUBLISH_CONNECTIONS
from tests.integration.service.databases import REDIS_URL

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.postgres
@pytest.mark.redis
def test_the_load_benchmark_runs_small_on_both_databases(tmp_path: Path) -> None:
    out = tmp_path / "api_load.json"
    args = ["--submits", "6", "--streams", "8", "--reads", "20", "--read-concurrency", "4"]
    args += ["--redis-url", REDIS_URL]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.api_load", *args, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"baseline", "sqlite", "postgres", "sqlite+redis", "postgres+redis"}
    for name, result in results.items():
        for operation, expected in [("submit", 6), ("stream", 8), ("read", 20)]:
            row = result[operation]
            assert row["ok"] == expected and row["errors"] == 0, (name, operation, row)
            assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert result["rss_peak_mib"] > 0
        redis_connections = result["at_stream_peak"]["redis_connections"]
        if name.endswith("+redis"):
            assert 1 <= redis_connections <= MAX_PUBLISH_CONNECTIONS + 1, (name, result)
        else:
            assert redis_connections is None
    assert "p99 x base" in done.stdout
    assert results["sqlite"]["vs_baseline"]["read"]["p99"] > 0
