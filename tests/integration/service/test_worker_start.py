"""`retrospect worker` refuses to start, with the setting to change, where the engine cannot
run as configured: CUDA asked for on a host without it, or a model too large for the memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.service.processes import REPO, service_env

pytestmark = pytest.mark.model
START_TIMEOUT_S = 180


def run_worker(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = service_env(tmp_path / "data", **settings)
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "worker"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=START_TIMEOUT_S, check=False,
    )  # fmt: skip


def test_a_worker_asked_for_cuda_without_it_exits_with_the_reason(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has CUDA: the refusal cannot be shown here")
    done = run_worker(tmp_path, RETROSPECT_ENGINE__DEVICE="cuda")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "RETROSPECT_ENGINE__DEVICE=cuda" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_model_that_cannot_fit_is_refused_before_it_loads(tmp_path: Path) -> None:
    shape = REPO / "benchmarks" / "shapes" / "qwen3-32b"  # 131 GB of fp32 weights on the CPU
    done = run_worker(
        tmp_path, RETROSPECT_ENGINE__MODEL=str(shape), RETROSPECT_ENGINE__SAMPLER="transformers"
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "does not fit on cpu" in done.stderr
    assert "RETROSPECT_ENGINE__MODEL" in done.stderr
