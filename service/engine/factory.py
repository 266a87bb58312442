"""Build a worker's engine from settings: one base model, its learner, and a sampler.

`auto` picks vLLM on a CUDA host where vllm imports, and the transformers sampler otherwise
(it shares the learner's model, so a new adapter is live at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from service.config import SamplerKind, Settings
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner
from service.engine.model import resolve_model
from service.engine.types import Sampler
from service.engine.vllm_sampler import VllmSampler, vllm_available

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """What a worker holds: the shared model host, the learner and the sampler."""

    host: ModelHost
    learner: PeftLearner
    sampler: Sampler
    sampler_kind: SamplerKind


def choose_sampler(settings: Settings) -> SamplerKind:
    """The sampler the settings ask for, with `auto` resolved for this host."""
    kind = settings.engine.sampler
    if kind is not SamplerKind.AUTO:
        return kind
    if torch.cuda.is_available() and vllm_available():
        return SamplerKind.VLLM
    return SamplerKind.TRANSFORMERS


def build_engine(settings: Settings) -> Engine:
    """Load the model once and wire the learner and the sampler to it."""
    host = ModelHost.load(settings.engine, settings.model_cache_dir)
    learner = PeftLearner(host, settings.engine, settings.adapters_dir)
    kind = choose_sampler(settings)
    sampler: Sampler
    if kind is SamplerKind.VLLM:
        model_path = resolve_model(settings.engine.model, settings.model_cache_dir)
        sampler = VllmSampler(model_path, settings.engine)
    else:
        sampler = HfSampler(host)
    logger.info("engine ready: model %s, sampler %s", settings.engine.model, kind.value)
    return Engine(host, learner, sampler, kind)
