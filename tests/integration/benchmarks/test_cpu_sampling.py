"""`python -m benchmarks.cpu_sampling` at a tiny size, on the default model: the service's
transformers sampler with and without a job's adapter, every cell counted and reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_MODEL
from tests.integration.service.processes import REPO

pytestmark = pytest.mark.model


def test_each_cell_reports_its_tokens_and_a_ratio_only_where_the_anchor_ran(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cpu_sampling.json"
    args = ["--model", TEST_MODEL, "--backends", "transformers-fp32", "--rows", "1,2"]
    args += ["--max-new-tokens", "6", "--repeats", "1", "--lora", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_sampling", *args], cwd=REPO,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    cells = {(c["rows"], c["lora"]): c for c in report["cells"]}
    assert set(cells) == {(1, False), (1, True), (2, False), (2, True)}
    for (rows, _), cell in cells.items():
        assert 0 < cell["tokens"] <= rows * 6
        assert cell["tokens_per_s"] > 0
        assert cell["ratio_to_anchor"] is None  # llama.cpp was not asked for
    assert "no anchor" in done.stdout
