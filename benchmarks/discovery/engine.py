"""The parts a benchmark solves with: the configured model (or random weights in its shape, for
a GPU host the checkpoint cannot travel to), its learner and sampler, and the sandbox."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from service.solver.loop import SolverParts


@contextmanager
def solver_parts(
    engine_overrides: Mapping[str, Any] | None = None,
    random_weights_from: Path | None = None,
    *,
    cache_samples: bool = False,
) -> Iterator[SolverParts]:
    """Build the engine with the worker settings plus `engine_overrides` (e.g. a LoRA rank);
    everything is released on exit, so the next shape does not share the memory.

    `random_weights_from`: a model folder holding only config and tokenizer files; the weights
    are random (timings hold, discoveries do not). `cache_samples`: seeded base-model samples
    are kept on disk (`benchmarks/sample_cache.py`), for benchmarks that describe the same
    attempts; never with random weights."""
    from sandbox import Sandbox, make_backend
    from service.config import EngineSettings, get_settings
    from service.engine.factory import Engine, build_engine

    settings = get_settings()
    engine_settings = EngineSettings.model_validate(
        {**settings.engine.model_dump(), **(engine_overrides or {})}
    )
    settings = settings.model_copy(update={"engine": engine_settings})
    engine: Engine = (
        build_engine(settings)
        if random_weights_from is None
        else _random_engine(settings.engine, settings.adapters_dir, random_weights_from)
    )
    sandbox = Sandbox(make_backend(), extraction=settings.sandbox.extraction)
    sampler: Any = engine.sampler
    if cache_samples and random_weights_from is None:
        from benchmarks.sample_cache import CachingSampler, model_identity
        from service.engine.model import resolve_model

        model_dir = Path(resolve_model(settings.engine.model, settings.model_cache_dir))
        identity = model_identity(model_dir, str(engine.host.causal_lm.dtype))
        sampler = CachingSampler(engine.sampler, identity)
    try:
        yield SolverParts(sampler, sandbox, engine.host.tokenizer, engine.learner)
    finally:
        sandbox.close()
        del engine
        gc.collect()


def _random_engine(settings: Any, adapters_dir: Path, model_dir: Path) -> Any:
    import torch
    from transformers import AutoTokenizer

    from benchmarks.learner import random_from_config
    from service.config import SamplerKind
    from service.engine.factory import Engine
    from service.engine.hf_sampler import HfSampler
    from service.engine.host import ModelHost, lora_config, pick_device
    from service.engine.learner import PeftLearner

    device = pick_device(settings.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = random_from_config(model_dir, device, dtype)
    host = ModelHost(model, AutoTokenizer.from_pretrained(model_dir), lora_config(settings))
    learner = PeftLearner(host, settings, adapters_dir)
    return Engine(host, learner, HfSampler(host), SamplerKind.TRANSFORMERS)
