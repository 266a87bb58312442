"""The smoke run's engine: the planned settings, the model (or random weights in a shape),
its learner and its sampler, built the way a worker builds them."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu_smoke.measured import MeasuredLearner, MeasuredSampler
from benchmarks.gpu_smoke.memory import device_free_bytes
from service.config import SamplerKind, Settings
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost, pick_dtype
from service.engine.learner import PeftLearner
from service.engine.memory_plan import MemoryPlan
from service.engine.model import resolve_model
from service.engine.startup import check_learner_share, plan_engine
from service.engine.vllm_sampler import VllmSampler

SHAPES_DIR = Path(__file__).resolve().parents[1] / "shapes"


@dataclass
class SmokeEngine:
    """What the smoke run measures with."""

    device: torch.device
    sampler_kind: SamplerKind
    plan: MemoryPlan
    host: ModelHost
    learner: MeasuredLearner
    sampler: MeasuredSampler
    model_label: str
    free_after_sampler_bytes: int | None  # the device's, once the sampler started (CUDA)

    def close(self) -> None:
        """Stop vLLM's processes, if any."""
        close = getattr(self.sampler.inner, "close", None)
        if callable(close):
            close()


def shape_dir(shape: str) -> Path:
    """A shape's folder: a name under benchmarks/shapes, or a folder with a config.json."""
    named = SHAPES_DIR / shape
    return named if named.is_dir() else Path(shape)


def build(settings: Settings, *, shape: str | None, tokenizer_dir: Path | None) -> SmokeEngine:
    """Plan memory, then load the configured model or random weights in `shape`."""
    planned = plan_engine(settings, model_dir=shape_dir(shape) if shape else None)
    device, kind, plan, resolved = planned.device, planned.sampler, planned.plan, planned.settings
    model_dir = planned.model_path
    tokenizer = _tokenizer(tokenizer_dir or _default_tokenizer_dir(settings, model_dir))
    weights_dir = model_dir
    if shape:
        model = _random_model(model_dir, device, pick_dtype(resolved.model_dtype, device))
        if kind is SamplerKind.VLLM:
            weights_dir = _written(model, tokenizer)
        host = ModelHost.around(model, tokenizer, resolved)
    else:
        host = ModelHost.load_folder(model_dir, resolved)
    learner = PeftLearner(host, resolved, Path(tempfile.mkdtemp(prefix="gpu-smoke-")))
    sampler: Any = HfSampler(host)
    if kind is SamplerKind.VLLM:
        sampler = VllmSampler(str(weights_dir), resolved)
    free = device_free_bytes(device)
    label = f"random weights shaped as {model_dir.name}" if shape else resolved.model
    smoke = SmokeEngine(
        device, kind, plan, host, MeasuredLearner(learner, device), MeasuredSampler(sampler),
        label, free,
    )  # fmt: skip
    try:
        check_learner_share(plan, device)  # as a worker refuses to start
    except Exception:
        smoke.close()
        raise
    return smoke


def _random_model(config_dir: Path, device: torch.device, dtype: torch.dtype) -> Any:
    """The model's own initialization, once: built with every init skipped (each layer's
    torch default init would be overwritten anyway; on CPU it cost 10.6 s of a 1B's 17 s),
    then `init_weights`. Buffers computed in the layers' constructors are kept."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    build_model: Any = AutoModelForCausalLM.from_config
    with device, no_init_weights():
        model = build_model(AutoConfig.from_pretrained(config_dir), dtype=dtype)
    model.init_weights()
    return model


def _default_tokenizer_dir(settings: Settings, model_dir: Path) -> Path:
    if (model_dir / "tokenizer.json").is_file() or (model_dir / "tokenizer_config.json").is_file():
        return model_dir
    return Path(resolve_model(settings.engine.model, settings.model_cache_dir))


def _tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _written(model: Any, tokenizer: Any) -> Path:
    """vLLM loads from files: random weights are written out first, with the tokenizer."""
    out = Path(tempfile.mkdtemp(prefix="gpu-smoke-weights-"))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
