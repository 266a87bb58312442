"""`python -m benchmarks.gpu_smoke` on the CPU, as CI runs it: a tiny shape's real round, and
the memory plan's learner budget checked against a measured step of a random ~1B model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.sandbox.conftest import docker_ready
from tests.integration.service.processes import REPO, service_env

pytestmark = pytest.mark.model
SMOKE_TIMEOUT_S = 600


def run_smoke(tmp_path: Path, *args: str) -> dict:
    env = service_env(tmp_path / "data")
    out = tmp_path / "smoke.json"
    command = [sys.executable, "-m", "benchmarks.gpu_smoke", "--device", "cpu", *args]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=SMOKE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict = json.loads(out.read_text())
    assert json.loads(done.stdout) == report
    return report


@pytest.mark.docker
def test_a_round_on_a_tiny_shape_reports_plan_peaks_phases_and_publish(tmp_path: Path) -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    report = run_smoke(
        tmp_path, "--shape", "tiny", "--attempts", "4", "--max-new-tokens", "24", "--force-learn"
    )
    assert report["sampler"] == "transformers" and report["device"] == "cpu"
    plan = report["plan"]
    assert plan["vllm"] is None and plan["planned_bytes"] <= plan["usable_bytes"]
    assert any(line.startswith("learner:") for line in plan["lines"])
    assert report["attempts"] == 8 and report["rounds"] == 2  # random weights solve nothing
    assert report["status"] == "exhausted" and report["force_learn"]
    (step,) = report["learner_steps"]  # one step between the two rounds
    assert step["predicted_step_bytes"] > 0 and step["measured_step_bytes"] > 0
    assert step["micro_batch_tokens"] <= plan["learner"]["micro_batch_tokens"]
    assert set(report["seconds"]) == {"sampling", "sandbox", "learning", "bookkeeping", "total"}
    assert report["seconds"]["sampling"] > 0 and report["seconds"]["sandbox"] > 0
    (latency,) = report["publish_latency_seconds"]
    assert latency > 0


def test_the_plans_token_budget_bounds_a_1b_learner_step_within_25_percent(
    tmp_path: Path,
) -> None:
    report = run_smoke(
        tmp_path, "--shape", "llama-1b", "--learner-only", "--micro-batch-tokens", "256"
    )
    (step,) = report["learner_steps"]
    assert step["micro_batch_tokens"] == 256
    ratio = step["measured_step_bytes"] / step["predicted_step_bytes"]
    print(f"1B learner step: measured/predicted = {ratio:.3f}")
    assert 0.75 <= ratio <= 1.25, step
