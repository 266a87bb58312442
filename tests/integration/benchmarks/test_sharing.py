"""`python -m benchmarks.sharing` at a tiny budget on the real model and Docker: two jobs one at
a time, then together through the shared sampler; the report's figures, and the same attempts
for each job both ways (the wiring, not the speed-up)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.sandbox.conftest import docker_ready
from tests.integration.service.processes import REPO, service_env

pytestmark = [pytest.mark.model, pytest.mark.docker]


def test_two_jobs_together_make_the_same_attempts_as_alone(tmp_path: Path) -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    env = service_env(tmp_path / "data")
    args = ["--jobs", "2", "--strategies", "sdpo", "--attempts", "4", "--attempts-per-round", "2"]
    args += ["--max-new-tokens", "24", "--out-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.sharing", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = json.loads((tmp_path / "sharing.json").read_text())["runs"]
    assert run["strategy"] == "sdpo" and run["jobs"] == 2
    assert run["same_attempts"] == [True, True]
    for way in ("alone", "together"):
        assert run[way]["attempts"] == 8 and run[way]["attempts_per_s"] > 0
        assert [job["attempts"] for job in run[way]["jobs"]] == [4, 4]
        assert all(job["first_event_s"] <= job["end_s"] for job in run[way]["jobs"])
    assert run["sampling_batches"] >= 2 and run["attempts_per_s_ratio"] > 0
    assert "sdpo x2:" in done.stdout
