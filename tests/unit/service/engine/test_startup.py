"""Start-up checks: an explicit device or sampler that this host lacks stops the worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from service.config import EngineSettings, SamplerKind, Settings
from service.engine import hub, startup
from service.engine.errors import DeviceUnavailable, MemoryPlanError, SamplerUnavailable
from service.engine.factory import choose_sampler
from service.engine.memory_plan import GIB, DeviceMemory, plan_memory
from service.engine.shape import ModelShape
from service.engine.vllm_sampler import vllm_available

SHAPES = Path(__file__).parents[4] / "benchmarks" / "shapes"


def settings_with(kind: SamplerKind) -> Settings:
    return Settings(engine=EngineSettings(sampler=kind, device="cpu"))


def test_an_explicit_transformers_sampler_is_kept() -> None:
    assert choose_sampler(settings_with(SamplerKind.TRANSFORMERS)) is SamplerKind.TRANSFORMERS


def test_auto_picks_vllm_only_where_cuda_and_vllm_are() -> None:
    expected = (
        SamplerKind.VLLM
        if torch.cuda.is_available() and vllm_available()
        else SamplerKind.TRANSFORMERS
    )
    auto = Settings(engine=EngineSettings(sampler=SamplerKind.AUTO))
    assert choose_sampler(auto) is expected


def test_cuda_asked_for_on_a_host_without_it_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailable, match="RETROSPECT_ENGINE__DEVICE=cuda"):
        startup.check_device("cuda")
    with pytest.raises(DeviceUnavailable, match="RETROSPECT_ENGINE__DEVICE=cuda:1"):
        startup.check_device("cuda:1")
    assert startup.check_device("auto") == torch.device("cpu")


def test_vllm_asked_for_where_it_does_not_import_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(startup, "vllm_import_error", lambda: "ImportError: no vllm")
    with pytest.raises(SamplerUnavailable, match="no vllm"):
        startup.check_sampler(SamplerKind.VLLM, torch.device("cpu"))
    cuda = torch.device("cuda")
    assert startup.check_sampler(SamplerKind.AUTO, cuda) is SamplerKind.TRANSFORMERS


def test_auto_takes_vllm_on_cuda_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "vllm_import_error", lambda: None)
    assert startup.check_sampler(SamplerKind.AUTO, torch.device("cuda")) is SamplerKind.VLLM
    assert startup.check_sampler(SamplerKind.AUTO, torch.device("cpu")) is SamplerKind.TRANSFORMERS
    assert startup.check_sampler(SamplerKind.VLLM, torch.device("cpu")) is SamplerKind.VLLM


def test_the_learners_allocator_grows_segments_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    monkeypatch.delenv("PYTORCH_ALLOC_CONF", raising=False)
    startup.configure_learner_allocator("cpu")
    assert "PYTORCH_CUDA_ALLOC_CONF" not in os.environ
    startup.configure_learner_allocator("cuda:1")
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:512")
    startup.configure_learner_allocator("auto")
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:512"
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF")
    monkeypatch.setenv("PYTORCH_ALLOC_CONF", "max_split_size_mb:256")  # torch's newer name
    startup.configure_learner_allocator("cuda")
    assert "PYTORCH_CUDA_ALLOC_CONF" not in os.environ


def test_a_device_without_the_learners_share_after_vllm_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shape = ModelShape.from_dir(SHAPES / "qwen3-8b")
    memory = DeviceMemory("cuda", 80 * GIB, 79 * GIB)
    request = startup.plan_request(
        EngineSettings(), shape, memory, device=torch.device("cuda"), uses_vllm=True
    )
    plan = plan_memory(request)
    reserved = plan.learner.weights_bytes
    free = {"bytes": plan.learner.total_bytes - reserved}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 80 * GIB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: reserved)
    startup.check_learner_share(plan, torch.device("cuda:0"))  # all there: no error
    free["bytes"] -= 2 * GIB
    with pytest.raises(MemoryPlanError, match="RETROSPECT_ENGINE__SAMPLING_TOKENS"):
        startup.check_learner_share(plan, torch.device("cuda:0"))
    startup.check_learner_share(plan, torch.device("cpu"))  # nothing to check off CUDA


def test_a_hub_id_is_planned_from_its_resolved_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan reads the hub client's snapshot folder, and hands that folder on to the
    learner and vLLM (`EnginePlan.model_path`), never the id as a relative path."""
    folder = SHAPES / "tiny"
    monkeypatch.setattr(hub, "snapshot", lambda name: folder.resolve())
    for variable in startup.COMPILE_CACHE_VARIABLES:  # restored after the test
        monkeypatch.setenv(variable, "/unused")
    settings = Settings(
        engine=EngineSettings(model="Qwen/Qwen3-8B", device="cpu", sampler=SamplerKind.TRANSFORMERS)
    )
    planned = startup.plan_engine(settings)
    assert planned.model_path == folder.resolve()
    assert planned.plan.learner.weights_bytes == ModelShape.from_dir(folder).parameters() * 4


def test_compile_caches_go_under_the_model_cache_unless_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in startup.COMPILE_CACHE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TRITON_CACHE_DIR", "/elsewhere/triton")
    startup.configure_compile_caches(tmp_path)
    assert os.environ["VLLM_CACHE_ROOT"] == str(tmp_path / "compile-cache" / "vllm")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "compile-cache" / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == "/elsewhere/triton"
