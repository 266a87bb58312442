"""The worker's memory plan: what vLLM and the learner each get on one device, before loading.

From the model's shape, the device's free memory and the settings, the plan gives vLLM its
weights, KV cache (in bytes) and LoRA slots, and the learner its weights, each held job's
adapter state (student, gradient, AdamW moments, EMA teacher) and an activation budget that
sets the learner's micro-batch size in tokens. Gradient checkpointing is turned on only where
one row of `max_model_len` tokens would not fit without it. A model that cannot fit is refused
with a message that names the setting to change. Pure arithmetic: `read_device_memory` is the
only function here that looks at the machine.

The activation figures are per token of a micro-batch, counted from the tensors a Llama-style
block keeps for its backward pass, scaled by a factor measured with the learner's own fp32 step
on this project's CPU host (`benchmarks/gpu_smoke` prints the predicted peak beside the
measured); a bf16 step's extra fp32 and bf16 copies are counted from the transformers and peft
sources. Activations get at most `ACTIVATION_SHARE` of what is left. docs/memory-plan.md has
the arithmetic for Qwen3-8B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from service.engine.errors import MemoryPlanError
from service.engine.shape import ModelShape

GIB = 1 << 30
# Student fp32 weight + gradient, AdamW's two fp32 moments, and the fp32 EMA teacher.
ADAPTER_STATE_BYTES_PER_PARAM = 4 + 4 + 8 + 4
# vLLM's own working memory beyond weights and KV cache (CUDA graphs, sampler, activations of
# its profiling run), and the CUDA context of each process.
VLLM_RUNTIME_BYTES = 2 * GIB
CUDA_CONTEXT_BYTES = GIB // 2
# vLLM's batch limits (`vllm_batch_limits`): a sampled row is rarely shorter than this.
VLLM_MIN_ROW_TOKENS = 512
VLLM_MAX_NUM_SEQS = 256
# Measured over counted activation bytes of the learner's own fp32 step on the CPU (random
# Llama shapes, 256 to 4096 tokens a micro-batch): 0.93-0.94, so the count is kept as it is.
ACTIVATION_SCALE = 1.0
# Activations get at most this share of what is left after the fixed state: the rest stays
# free for the allocator's fragmentation and the tensors the count does not see.
ACTIVATION_SHARE = 0.8
# With checkpointing, the block rebuilt in backward and its gradients: 1.15x the count
# measured, rounded up.
RECOMPUTED_BLOCK_SCALE = 1.3
# `[tokens, vocab]` fp32 tensors alive at once in the loss (student logits and log-softmax,
# the teacher's gathered logits), as measured with the chunked top-K loss.
LOSS_TENSORS = 3


@dataclass(frozen=True)
class DeviceMemory:
    """What the device has: `cuda` or `cpu`, total and currently free bytes."""

    kind: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class PlanRequest:
    """Everything the plan depends on, already resolved from settings and the model."""

    shape: ModelShape
    memory: DeviceMemory
    weight_bytes: int  # per parameter: 2 for bf16, 4 for fp32
    uses_vllm: bool
    jobs: int
    lora_rank: int
    lora_targets: tuple[str, ...]
    ema_teacher: bool
    max_model_len: int
    sampling_tokens: int  # KV-cache tokens the sampler needs at once
    loss_chunk_tokens: int | None
    gradient_checkpointing: bool | None  # None: the plan decides
    micro_batch_tokens: int | None  # None: the plan decides
    max_rows: int = 4  # rows in one micro-batch at most
    headroom_fraction: float = 0.1


@dataclass(frozen=True)
class VllmShare:
    """vLLM's part of the device."""

    weights_bytes: int
    kv_cache_bytes: int
    kv_tokens: int
    lora_slots: int
    lora_bytes: int
    runtime_bytes: int
    max_num_seqs: int
    max_num_batched_tokens: int

    @property
    def total_bytes(self) -> int:
        """All of vLLM's memory."""
        return self.weights_bytes + self.kv_cache_bytes + self.lora_bytes + self.runtime_bytes


@dataclass(frozen=True)
class LearnerShare:
    """The learner's part: fixed state, then an activation budget in tokens."""

    weights_bytes: int
    adapter_parameters: int  # per job
    adapter_state_bytes: int  # per job
    jobs: int
    sampling_bytes: int  # the transformers sampler's KV cache (0 under vLLM)
    loss_bytes: int  # at `loss_tokens` response tokens in one chunk
    loss_tokens: int
    activation_bytes_per_token: int
    micro_batch_tokens: int
    gradient_checkpointing: bool

    @property
    def fixed_bytes(self) -> int:
        """Weights, every held job's adapter state, and the larger of sampling and loss."""
        transient = max(self.sampling_bytes, self.loss_bytes)
        return self.weights_bytes + self.jobs * self.adapter_state_bytes + transient

    def step_bytes(
        self, tokens: int, *, response_tokens: int | None = None, first: bool = False
    ) -> int:
        """What a learner step adds at its peak over what is resident before it: activations
        of a `tokens` micro-batch and the loss over its response tokens (all of `tokens`
        unless said); the first step also allocates the gradient and AdamW's moments."""
        optimizer = self.adapter_parameters * (4 + 8) if first else 0
        in_loss = min(tokens if response_tokens is None else response_tokens, self.loss_tokens)
        loss = self.loss_bytes * in_loss // self.loss_tokens
        return self.activation_bytes_per_token * tokens + loss + optimizer

    def peak_bytes(self, tokens: int) -> int:
        """Predicted peak of a learner step whose micro-batches hold `tokens` tokens."""
        step = self.step_bytes(tokens)
        return self.weights_bytes + self.jobs * self.adapter_state_bytes + step

    @property
    def total_bytes(self) -> int:
        """The learner's peak at its planned micro-batch size."""
        return max(self.fixed_bytes, self.peak_bytes(self.micro_batch_tokens))


@dataclass(frozen=True)
class MemoryPlan:
    """The split of one device between vLLM and the learner."""

    device: DeviceMemory
    usable_bytes: int
    vllm: VllmShare | None
    learner: LearnerShare

    @property
    def planned_bytes(self) -> int:
        """Everything the plan hands out at its peak."""
        return self.learner.total_bytes + (self.vllm.total_bytes if self.vllm else 0)

    @property
    def gpu_memory_utilization(self) -> float:
        """vLLM's share as the fraction of the device's total memory it asks for."""
        if self.vllm is None:
            return 0.0
        share = (self.vllm.total_bytes + CUDA_CONTEXT_BYTES) / self.device.total_bytes
        return min(round(share + 0.005, 2), 1.0)

    def lines(self) -> list[str]:
        """The plan for the worker's start-up log, one fact a line, in GiB."""
        rows = [
            f"device {self.device.kind}: {_gib(self.device.total_bytes)} total, "
            f"{_gib(self.device.free_bytes)} free, {_gib(self.usable_bytes)} planned for",
        ]
        if self.vllm is not None:
            v = self.vllm
            rows.append(
                f"vllm: weights {_gib(v.weights_bytes)}, KV cache {_gib(v.kv_cache_bytes)} "
                f"({v.kv_tokens} tokens), {v.lora_slots} LoRA slots {_gib(v.lora_bytes)}, "
                f"runtime {_gib(v.runtime_bytes)} (gpu_memory_utilization "
                f"{self.gpu_memory_utilization}), max_num_seqs {v.max_num_seqs}, "
                f"max_num_batched_tokens {v.max_num_batched_tokens}"
            )
        s = self.learner
        rows.append(
            f"learner: weights {_gib(s.weights_bytes)}, {s.jobs} job(s) x adapter state "
            f"{_gib(s.adapter_state_bytes)}, micro-batches of {s.micro_batch_tokens} tokens "
            f"({s.activation_bytes_per_token / 1e6:.2f} MB a token), gradient checkpointing "
            f"{'on' if s.gradient_checkpointing else 'off'}, peak {_gib(s.total_bytes)}"
        )
        rows.append(f"planned peak {_gib(self.planned_bytes)} of {_gib(self.usable_bytes)}")
        return rows


def plan_memory(request: PlanRequest) -> MemoryPlan:
    """Split the device; raises `MemoryPlanError` naming the setting to change."""
    usable = int(request.memory.free_bytes * (1.0 - request.headroom_fraction))
    vllm = _vllm_share(request) if request.uses_vllm else None
    left = usable - (vllm.total_bytes if vllm else 0)
    learner = _learner_share(request, left)
    return MemoryPlan(request.memory, usable, vllm, learner)


def adapter_parameters(request: PlanRequest) -> int:
    """Parameters of one job's LoRA adapter."""
    return request.shape.lora_parameters(request.lora_rank, request.lora_targets)


def activation_bytes_per_token(
    shape: ModelShape,
    element_bytes: int,
    *,
    checkpointing: bool,
    lora_targets: tuple[str, ...] = (),
) -> int:
    """Bytes the backward pass keeps per token of a micro-batch, across all layers.

    Without checkpointing every block keeps its inputs, norms, q/k/v (and their rotated and
    head-repeated copies), the attention output and the four MLP intermediates. With it, each
    block keeps only its input, and one block's tensors are rebuilt at a time in backward.
    Below fp32, `low_precision_extra_elements` adds what the bf16 step keeps besides.
    """
    h, q, kv, i = shape.hidden, shape.q_dim, shape.kv_dim, shape.intermediate
    block = 4 * h + 5 * q + 3 * kv + 4 * i
    if checkpointing:
        held_blocks = 1
        elements = shape.layers * h + math.ceil(RECOMPUTED_BLOCK_SCALE * block)
    else:
        held_blocks = shape.layers
        elements = shape.layers * block
    counted = math.ceil(ACTIVATION_SCALE * elements * element_bytes)
    if element_bytes >= 4:
        return counted
    return counted + held_blocks * low_precision_block_bytes(shape, lora_targets)


def low_precision_block_bytes(shape: ModelShape, lora_targets: tuple[str, ...]) -> int:
    """What one block of a bf16 step keeps beyond its bf16 tensors, per token.

    - Each RMSNorm (two a block) keeps its input cast to fp32.
    - Qwen3's `q_norm`/`k_norm` keep q and k cast to fp32.
    - peft casts each LoRA-wrapped projection's input to the adapter's fp32, and autocast
      casts that back to a new bf16 tensor for `lora_A`, which keeps it for its backward:
      one bf16 copy of every wrapped projection's input (the fp32 cast itself is freed).
    """
    norms = 2 * shape.hidden * 4
    qk_norms = (shape.q_dim + shape.kv_dim) * 4 if shape.qk_norm else 0
    lora_inputs = shape.lora_input_features(lora_targets) * 2
    return norms + qk_norms + lora_inputs


def vllm_batch_limits(request: PlanRequest) -> tuple[int, int]:
    """vLLM's `max_num_seqs` and `max_num_batched_tokens`.

    Sequences: as many rows of `VLLM_MIN_ROW_TOKENS` as the KV cache holds, capped; more
    would only wait for KV blocks. Tokens a step: one full-length row (longer prompts are
    prefilled in chunks). vLLM's own defaults (1,024 and 16,384 on a GPU) make its start-up
    profiling hold far more logits than this plan's sampling ever needs.
    """
    seqs = max(1, min(VLLM_MAX_NUM_SEQS, request.sampling_tokens // VLLM_MIN_ROW_TOKENS))
    return seqs, max(request.max_model_len, seqs)


def _vllm_share(request: PlanRequest) -> VllmShare:
    shape, jobs = request.shape, request.jobs
    kv_tokens = request.sampling_tokens
    lora_bytes = (jobs + 1) * adapter_parameters(request) * 2  # bf16 in vLLM's slots
    seqs, batched_tokens = vllm_batch_limits(request)
    # Its sampler's fp32 logits and their softmax for every sequence of a step.
    logits = 2 * seqs * shape.vocab * 4
    on_cuda = request.memory.kind == "cuda"
    return VllmShare(
        weights_bytes=shape.parameters() * 2,
        kv_cache_bytes=kv_tokens * shape.kv_bytes_per_token(2),
        kv_tokens=kv_tokens,
        lora_slots=jobs,
        lora_bytes=lora_bytes,
        runtime_bytes=VLLM_RUNTIME_BYTES + logits if on_cuda else 0,
        max_num_seqs=seqs,
        max_num_batched_tokens=batched_tokens,
    )


def _learner_share(request: PlanRequest, left_bytes: int) -> LearnerShare:
    shape = request.shape
    params = adapter_parameters(request)
    state = params * (ADAPTER_STATE_BYTES_PER_PARAM - (0 if request.ema_teacher else 4))
    sampling = (
        0
        if request.uses_vllm
        else request.sampling_tokens * shape.kv_bytes_per_token(request.weight_bytes)
    )
    loss_tokens = request.loss_chunk_tokens or request.max_model_len
    draft = LearnerShare(
        weights_bytes=shape.parameters() * request.weight_bytes,
        adapter_parameters=params,
        adapter_state_bytes=state,
        jobs=request.jobs,
        sampling_bytes=sampling,
        loss_bytes=LOSS_TENSORS * loss_tokens * shape.vocab * 4,
        loss_tokens=loss_tokens,
        activation_bytes_per_token=0,
        micro_batch_tokens=0,
        gradient_checkpointing=False,
    )
    room = left_bytes - draft.fixed_bytes
    checkpointing = _choose_checkpointing(request, room)
    per_token = _per_token(request, checkpointing=checkpointing)
    tokens = int(room * ACTIVATION_SHARE) // per_token if room > 0 else 0
    if tokens < request.max_model_len:
        raise MemoryPlanError(_refusal(request, draft, per_token, left_bytes))
    # More than `max_rows` full-length rows never share a micro-batch.
    tokens = min(tokens, request.max_rows * request.max_model_len)
    if request.micro_batch_tokens is not None:
        tokens = min(tokens, request.micro_batch_tokens)
    return LearnerShare(
        weights_bytes=draft.weights_bytes,
        adapter_parameters=params,
        adapter_state_bytes=state,
        jobs=request.jobs,
        sampling_bytes=sampling,
        loss_bytes=draft.loss_bytes,
        loss_tokens=loss_tokens,
        activation_bytes_per_token=per_token,
        micro_batch_tokens=int(tokens),
        gradient_checkpointing=checkpointing,
    )


def _choose_checkpointing(request: PlanRequest, room_bytes: int) -> bool:
    """Off while one full-length row fits without it; the setting, when given, wins."""
    if request.gradient_checkpointing is not None:
        return request.gradient_checkpointing
    per_token = _per_token(request, checkpointing=False)
    return room_bytes * ACTIVATION_SHARE < per_token * request.max_model_len


def _per_token(request: PlanRequest, *, checkpointing: bool) -> int:
    return activation_bytes_per_token(
        request.shape,
        request.weight_bytes,
        checkpointing=checkpointing,
        lora_targets=request.lora_targets,
    )


def _refusal(request: PlanRequest, draft: LearnerShare, per_token: int, left_bytes: int) -> str:
    need = draft.fixed_bytes + math.ceil(per_token * request.max_model_len / ACTIVATION_SHARE)
    usable = int(request.memory.free_bytes * (1.0 - request.headroom_fraction))
    return (
        f"the model does not fit on {request.memory.kind}: the learner needs "
        f"{_gib(need)} for one row of {request.max_model_len} tokens (weights "
        f"{_gib(draft.weights_bytes)}, {request.jobs} job(s) of adapter state, activations) "
        f"and has {_gib(max(left_bytes, 0))} of {_gib(usable)} usable"
        + (" after vLLM's share" if request.uses_vllm else "")
        + ". Lower RETROSPECT_ENGINE__MAX_MODEL_LEN, RETROSPECT_ENGINE__SAMPLING_TOKENS or "
        "RETROSPECT_ENGINE__LORA_RANK, turn on RETROSPECT_ENGINE__GRADIENT_CHECKPOINTING, or "
        "choose a smaller RETROSPECT_ENGINE__MODEL"
    )


def learner_shortfall_bytes(plan: MemoryPlan, *, free_bytes: int, reserved_bytes: int) -> int:
    """How much of the learner's planned peak the device cannot give it now (0: all there).

    Read once vLLM has started: `free_bytes` is the device's free memory (`mem_get_info`,
    which sees vLLM's process), `reserved_bytes` what this process's allocator already holds
    (the learner's weights and its cache), which the learner's peak reuses.
    """
    return max(0, plan.learner.total_bytes - reserved_bytes - free_bytes)


def shortfall_message(plan: MemoryPlan, shortfall_bytes: int, free_bytes: int) -> str:
    """The refusal when vLLM left the learner less than its planned share."""
    vllm = f"{_gib(plan.vllm.total_bytes)} planned for vLLM" if plan.vllm else "no vLLM"
    return (
        f"after vLLM started the device has {_gib(free_bytes)} free, {_gib(shortfall_bytes)} "
        f"short of the learner's planned peak of {_gib(plan.learner.total_bytes)} ({vllm}; "
        "vLLM or another process took more). Lower RETROSPECT_ENGINE__MICRO_BATCH_TOKENS or "
        "RETROSPECT_ENGINE__SAMPLING_TOKENS, raise RETROSPECT_ENGINE__MEMORY_HEADROOM_FRACTION, "
        "or give this worker a GPU of its own"
    )


def read_device_memory(kind: str) -> DeviceMemory:
    """Total and free bytes of the CUDA device (`cuda`, `cuda:N`) or of the host (`cpu`)."""
    if kind.startswith("cuda"):
        import torch

        free, total = torch.cuda.mem_get_info(torch.device(kind))
        return DeviceMemory("cuda", int(total), int(free))
    fields = _meminfo(Path("/proc/meminfo"))
    return DeviceMemory("cpu", fields["MemTotal"], fields["MemAvailable"])


def _meminfo(path: Path) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    return fields


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"
