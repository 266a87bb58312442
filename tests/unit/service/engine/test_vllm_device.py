"""What vLLM is handed on CUDA: the worker's GPU (through the EngineCore's
`CUDA_VISIBLE_DEVICES`) and the memory plan's limits. vLLM's constructor is replaced by a
recorder; no engine starts."""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import pytest

from service.config import EngineSettings
from service.engine.errors import EngineConfigError
from service.engine.vllm_sampler import VllmSampler, engine_visible_devices


class RecordedLLM:
    """Stands in for `vllm.LLM`: keeps its arguments and the environment it was built in."""

    built: list[RecordedLLM] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        model_config = types.SimpleNamespace(max_model_len=kwargs["max_model_len"])
        self.llm_engine = types.SimpleNamespace(model_config=model_config)
        RecordedLLM.built.append(self)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[RecordedLLM]:
    fake = types.ModuleType("vllm")
    fake.LLM = RecordedLLM  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    RecordedLLM.built = []
    return RecordedLLM.built


def test_cuda_n_reaches_vllm_as_its_only_visible_device(
    recorded: list[RecordedLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    VllmSampler("/models/m", EngineSettings(device="cuda:2"))
    assert recorded[0].visible == "2"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ  # this process numbers devices as before


def test_cuda_n_is_numbered_as_this_process_sees_devices(
    recorded: list[RecordedLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,GPU-abc,6")
    VllmSampler("/models/m", EngineSettings(device="cuda:1"))
    assert recorded[0].visible == "GPU-abc"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,GPU-abc,6"


def test_the_first_gpu_leaves_the_environment_alone(
    recorded: list[RecordedLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    VllmSampler("/models/m", EngineSettings(device="cuda"))
    VllmSampler("/models/m", EngineSettings(device="cuda:0"))
    assert [llm.visible for llm in recorded] == ["3", "3"]


def test_vllm_gets_the_plans_batch_limits_and_memory(recorded: list[RecordedLLM]) -> None:
    settings = EngineSettings(
        device="cuda:0",
        vllm_max_num_seqs=128,
        vllm_max_num_batched_tokens=4096,
        vllm_kv_cache_bytes=1 << 30,
        vllm_gpu_memory_utilization=0.4,
    )
    VllmSampler("/models/m", settings)
    kwargs = recorded[0].kwargs
    assert kwargs["max_num_seqs"] == 128
    assert kwargs["max_num_batched_tokens"] == 4096
    assert kwargs["kv_cache_memory_bytes"] == 1 << 30
    assert kwargs["gpu_memory_utilization"] == 0.4
    assert kwargs["model"] == "/models/m"


def test_a_device_beyond_the_visible_ones_is_refused_naming_the_setting(
    recorded: list[RecordedLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(EngineConfigError, match="RETROSPECT_ENGINE__DEVICE=cuda:2"):
        VllmSampler("/models/m", EngineSettings(device="cuda:2"))
    assert recorded == []


def test_an_in_process_engine_cannot_take_another_gpu(
    recorded: list[RecordedLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    with pytest.raises(EngineConfigError, match="VLLM_ENABLE_V1_MULTIPROCESSING"):
        VllmSampler("/models/m", EngineSettings(device="cuda:1"))
    assert recorded == []


def test_a_malformed_device_is_refused() -> None:
    with pytest.raises(EngineConfigError, match="cuda:x"):
        engine_visible_devices("cuda:x", None, multiprocessing=True)
