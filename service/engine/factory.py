"""Build a worker's engine from settings: one base model, its learner, and a sampler.

`auto` picks vLLM on a CUDA host where vllm imports, and the transformers sampler otherwise
(it shares the learner's model, so a new adapter is live at once). The memory plan
(`startup.py`) runs first and sizes both for `worker.max_jobs` jobs; with more than one, the
jobs' rounds sample together through a `SharedSampler`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from service.config import SamplerKind, Settings
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner
from service.engine.sharing import SharedSampler
from service.engine.startup import (
    check_device,
    check_learner_share,
    check_sampler,
    plan_engine,
)
from service.engine.torch_thread import torch_thread
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


def shared_sampler(batch: HfSampler | VllmSampler) -> SharedSampler:
    """The batch sampler shared by a worker's jobs. A transformers batch forms on the torch
    thread once the learner steps queued there are done, so the rounds of the jobs that were
    learning join it; vLLM runs beside the learner."""
    if isinstance(batch, HfSampler):
        return SharedSampler(batch, run_on=torch_thread().run_when_idle)
    return SharedSampler(batch)


def build_engine(settings: Settings) -> Engine:
    """Check the host, plan its memory, then load the model once and wire learner and sampler.

    Raises an `EngineConfigError` naming the setting to change before any weights load.
    """
    jobs = settings.worker.max_jobs
    planned = plan_engine(settings, jobs=jobs)
    engine_settings = planned.settings
    host = ModelHost.load_folder(planned.model_path, engine_settings)  # the one resolved folder
    learner = PeftLearner(host, engine_settings, settings.adapters_dir)
    batch: HfSampler | VllmSampler
    if planned.sampler is SamplerKind.VLLM:
        batch = VllmSampler(str(planned.model_path), engine_settings)
        try:
            check_learner_share(planned.plan, planned.device)
        except Exception:
            batch.close()
            raise
    else:
        batch = HfSampler(host)
    # Several held jobs sample through one batch; one job needs no gathering.
    sampler: Sampler = shared_sampler(batch) if jobs > 1 else batch
    logger.info("engine ready: model %s, sampler %s", engine_settings.model, planned.sampler.value)
    return Engine(host, learner, sampler, planned.sampler)
