"""`retrospect worker` refuses to start, with the setting to change, where the engine cannot
run as configured: CUDA asked for on a host without it, a model too large for the memory, a
hub model that is not in an offline cache; and it starts from one that is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.engine.model import SOURCE_FILE, resolve_model
from tests.conftest import TEST_MODEL
from tests.integration.service.processes import MODELS_DIR, REPO, embedded_server, service_env
from tests.unit.service.engine.hub_cache import lay_out

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


def test_a_worker_starts_from_a_hub_id_in_an_offline_hub_cache(tmp_path: Path) -> None:
    """The documented GPU deployment's form of the setting, on the default model's files."""
    folder = resolve_model(TEST_MODEL, MODELS_DIR)
    files = {p.name: p for p in folder.iterdir() if p.is_file() and p.name != SOURCE_FILE}
    lay_out(tmp_path / "hf" / "hub", "test-org/smollm2-hub", files)
    hub = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    (tmp_path / "data").mkdir()
    with embedded_server(
        tmp_path / "data", RETROSPECT_ENGINE__MODEL="test-org/smollm2-hub", **hub
    ) as (base, service):
        checks = httpx.get(f"{base}/readyz", timeout=10).json()["checks"]
        assert checks["worker"] is True, service.tail()


def test_a_hub_id_missing_from_an_offline_cache_exits_with_the_reason(tmp_path: Path) -> None:
    done = run_worker(
        tmp_path,
        RETROSPECT_ENGINE__MODEL="test-org/not-cached",
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE="1",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "'test-org/not-cached' is not in the hub cache" in done.stderr
    assert "HF_HUB_OFFLINE=1" in done.stderr
    assert "Traceback" not in done.stderr
