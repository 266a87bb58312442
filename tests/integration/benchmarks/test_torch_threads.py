"""`python -m benchmarks.torch_threads` at a tiny size: three ways timed, ratios to the first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.service.processes import REPO

pytestmark = pytest.mark.model

WAYS = ("one thread", "second thread", "taking turns")


def test_the_report_times_each_way_against_one_thread(tmp_path: Path) -> None:
    args = ["--forwards", "2", "--repeats", "1", "--out-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.torch_threads", *args], cwd=REPO,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "torch_threads.json").read_text())
    assert tuple(report["seconds_per_forward"]) == WAYS
    assert all(seconds > 0 for seconds in report["seconds_per_forward"].values())
    assert report["ratio_to_one_thread"]["one thread"] == 1.0
    for way in WAYS:
        assert f"{way}:" in done.stdout
