"""Start-up checks: an explicit device or sampler that this host lacks stops the worker."""

from __future__ import annotations

import pytest
import torch

from service.config import EngineSettings, SamplerKind, Settings
from service.engine import startup
from service.engine.errors import DeviceUnavailable, SamplerUnavailable
from service.engine.factory import choose_sampler
from service.engine.vllm_sampler import vllm_available


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
