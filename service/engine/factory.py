"""Build a worker's engine from settings: one base model, its learner, and a sampler.

`auto` picks vLLM on a CUDA host where vllm imports, and the transformers sampler otherwise
(it shares the learner's model, so a new adapter is live at once). The memory plan
(`startup.py`) runs first and sizes both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.config import SamplerKind, Settings
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner
from service.engine.startup import check_device, check_sampler, plan_engine
from service.engine.types import Sampler
from service.engine.vllm_sampler import VllmSampler

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
    return check_sampler(settings.engine.sampler, check_device(settings.engine.device))


def build_engine(settings: Settings) -> Engine:
    """Check the host, plan its memory, then load the model once and wire learner and sampler.

    Raises an `EngineConfigError` naming the setting to change before any weights load.
    """
    planned = plan_engine(settings)
    engine_settings = planned.settings
    host = ModelHost.load(engine_settings, settings.model_cache_dir)
    learner = PeftLearner(host, engine_settings, settings.adapters_dir)
    sampler: Sampler
    if planned.sampler is SamplerKind.VLLM:
        sampler = VllmSampler(str(planned.model_path), engine_settings)
    else:
        sampler = HfSampler(host)
    logger.info("engine ready: model %s, sampler %s", engine_settings.model, planned.sampler.value)
    return Engine(host, learner, sampler, planned.sampler)
