"""Sampler choice: the setting wins; `auto` takes vLLM only on a CUDA host with vllm."""

from __future__ import annotations

import torch

from service.config import EngineSettings, SamplerKind, Settings
from service.engine.factory import choose_sampler
from service.engine.vllm_sampler import vllm_available


def settings_with(kind: SamplerKind) -> Settings:
    return Settings(engine=EngineSettings(sampler=kind))


def test_an_explicit_sampler_setting_is_kept() -> None:
    assert choose_sampler(settings_with(SamplerKind.TRANSFORMERS)) is SamplerKind.TRANSFORMERS
    assert choose_sampler(settings_with(SamplerKind.VLLM)) is SamplerKind.VLLM


def test_auto_picks_vllm_only_where_cuda_and_vllm_are() -> None:
    expected = (
        SamplerKind.VLLM
        if torch.cuda.is_available() and vllm_available()
        else SamplerKind.TRANSFORMERS
    )
    assert choose_sampler(settings_with(SamplerKind.AUTO)) is expected
