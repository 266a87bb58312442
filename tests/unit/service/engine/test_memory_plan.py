"""The memory plan on the shapes of 135M, 1B, 8B and 32B models, and its invariants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import EngineSettings
from service.engine.memory_plan import (
    ACTIVATION_SHARE,
    GIB,
    DeviceMemory,
    MemoryPlanError,
    PlanRequest,
    activation_bytes_per_token,
    learner_shortfall_bytes,
    plan_memory,
    shortfall_message,
)
from service.engine.shape import ModelShape
from service.engine.startup import plan_request, resolved_settings

SHAPES = Path(__file__).parents[4] / "benchmarks" / "shapes"
CPU_24 = DeviceMemory("cpu", 24 * GIB, 22 * GIB)
GPU_24 = DeviceMemory("cuda", 24 * GIB, 23 * GIB)
GPU_80 = DeviceMemory("cuda", 80 * GIB, 79 * GIB)
GPU_141 = DeviceMemory("cuda", 141 * GIB, 140 * GIB)


def shape(name: str) -> ModelShape:
    return ModelShape.from_dir(SHAPES / name)


def request(name: str, memory: DeviceMemory, *, vllm: bool, **engine: object) -> PlanRequest:
    device = torch.device("cuda" if memory.kind == "cuda" else "cpu")
    return plan_request(
        EngineSettings(**engine), shape(name), memory, device=device, uses_vllm=vllm
    )


@pytest.mark.parametrize(
    ("name", "billions"),
    [("smollm2-135m", 0.1345), ("llama-1b", 1.236), ("qwen3-8b", 8.19), ("qwen3-32b", 32.76)],
)
def test_parameter_counts_match_the_published_sizes(name: str, billions: float) -> None:
    assert shape(name).parameters() / 1e9 == pytest.approx(billions, rel=0.01)


def test_lora_parameters_count_every_targeted_projection() -> None:
    tiny = shape("tiny")
    per_block = {name: 16 * (i + o) for name, (i, o) in tiny.projection_sizes().items()}
    assert tiny.lora_parameters(16, ("all-linear",)) == tiny.layers * sum(per_block.values())
    assert tiny.lora_parameters(16, ("q_proj", "v_proj")) == tiny.layers * (
        per_block["q_proj"] + per_block["v_proj"]
    )


def test_the_default_model_on_this_cpu_host_needs_no_checkpointing() -> None:
    plan = plan_memory(request("smollm2-135m", CPU_24, vllm=False))
    assert plan.vllm is None
    assert not plan.learner.gradient_checkpointing
    assert 4096 <= plan.learner.micro_batch_tokens <= 4 * 4096  # rows x max_model_len cap
    assert plan.planned_bytes <= plan.usable_bytes


def test_1b_with_vllm_fits_a_24_gib_gpu() -> None:
    plan = plan_memory(request("llama-1b", GPU_24, vllm=True))
    assert plan.vllm is not None
    assert plan.planned_bytes <= plan.usable_bytes
    assert 0 < plan.gpu_memory_utilization < 0.5


def test_8b_with_vllm_on_80_gib_turns_checkpointing_on_and_sizes_vllm() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_80, vllm=True))
    assert plan.vllm is not None
    assert plan.vllm.weights_bytes == shape("qwen3-8b").parameters() * 2
    assert plan.vllm.kv_tokens == 16 * 4096
    assert plan.vllm.lora_slots == 1
    assert plan.learner.gradient_checkpointing
    assert plan.learner.micro_batch_tokens >= 4096
    assert plan.planned_bytes <= plan.usable_bytes
    lines = plan.lines()
    assert any(line.startswith("vllm: weights 15.3 GiB") for line in lines)


def test_8b_on_an_h200_keeps_full_activations() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_141, vllm=True))
    assert not plan.learner.gradient_checkpointing
    assert plan.planned_bytes <= plan.usable_bytes


def test_32b_with_vllm_on_80_gib_is_refused_naming_the_settings() -> None:
    with pytest.raises(MemoryPlanError) as refused:
        plan_memory(request("qwen3-32b", GPU_80, vllm=True))
    message = str(refused.value)
    assert "RETROSPECT_ENGINE__MODEL" in message
    assert "RETROSPECT_ENGINE__MAX_MODEL_LEN" in message


def test_32b_fits_an_h200_with_one_copy_of_the_weights() -> None:
    plan = plan_memory(request("qwen3-32b", GPU_141, vllm=False))
    assert plan.learner.gradient_checkpointing
    assert plan.planned_bytes <= plan.usable_bytes


def test_explicit_settings_win_over_the_plan() -> None:
    plan = plan_memory(
        request(
            "smollm2-135m", CPU_24, vllm=False, gradient_checkpointing=True,
            micro_batch_tokens=1000, max_model_len=512,
        )
    )  # fmt: skip
    assert plan.learner.gradient_checkpointing
    assert plan.learner.micro_batch_tokens == 1000


def test_resolved_settings_carry_the_plan_to_learner_and_vllm() -> None:
    base = EngineSettings()
    plan = plan_memory(request("qwen3-8b", GPU_80, vllm=True))
    resolved = resolved_settings(base, plan)
    assert resolved.micro_batch_tokens == plan.learner.micro_batch_tokens
    assert resolved.gradient_checkpointing is True
    assert resolved.max_loras == 1
    assert plan.vllm is not None
    assert resolved.vllm_kv_cache_bytes == plan.vllm.kv_cache_bytes
    assert resolved.vllm_gpu_memory_utilization == plan.gpu_memory_utilization
    assert resolved.vllm_max_num_seqs == plan.vllm.max_num_seqs
    assert resolved.vllm_max_num_batched_tokens == plan.vllm.max_num_batched_tokens


def test_vllm_batch_limits_follow_the_kv_cache_not_vllms_defaults() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_80, vllm=True))
    assert plan.vllm is not None
    # 16 rows of 4096 tokens of KV cache hold 128 rows of 512; a step is one full row.
    assert plan.vllm.max_num_seqs == 128
    assert plan.vllm.max_num_batched_tokens == 4096
    # Its sampler's fp32 logits and softmax for 128 sequences of a 151,936-token vocabulary.
    assert plan.vllm.runtime_bytes == 2 * GIB + 2 * 128 * 151_936 * 4


def test_only_qwen3_shapes_have_qk_norms() -> None:
    assert shape("qwen3-8b").qk_norm
    assert not shape("llama-1b").qk_norm


BF16 = 2
ALL = ("all-linear",)


def test_bf16_counts_each_rmsnorms_fp32_input() -> None:
    llama = shape("llama-1b")
    h, q, kv, i = llama.hidden, llama.q_dim, llama.kv_dim, llama.intermediate
    bf16_tensors = llama.layers * (4 * h + 5 * q + 3 * kv + 4 * i) * BF16
    norms = llama.layers * 2 * h * 4
    assert activation_bytes_per_token(llama, BF16, checkpointing=False) == bf16_tensors + norms


def test_bf16_counts_qwen3s_fp32_q_and_k() -> None:
    qwen = shape("qwen3-8b")
    with_norms = activation_bytes_per_token(qwen, BF16, checkpointing=False)
    without = activation_bytes_per_token(replace(qwen, qk_norm=False), BF16, checkpointing=False)
    # 36 layers x (4096 + 1024) fp32 elements: 0.74 MB a token.
    assert with_norms - without == 36 * (4096 + 1024) * 4 == 737_280


def test_bf16_counts_the_copy_of_each_lora_input_that_lora_a_keeps() -> None:
    qwen = shape("qwen3-8b")
    wrapped = activation_bytes_per_token(qwen, BF16, checkpointing=False, lora_targets=ALL)
    bare = activation_bytes_per_token(qwen, BF16, checkpointing=False)
    # q, k, v, gate, up take 4096 each, o 4096, down 12288: 36,864 bf16 elements a layer.
    assert wrapped - bare == 36 * 36_864 * 2 == 2_654_208
    only_q = activation_bytes_per_token(qwen, BF16, checkpointing=False, lora_targets=("q_proj",))
    assert only_q - bare == 36 * 4096 * 2


def test_fp32_steps_keep_no_extra_copies() -> None:
    qwen = shape("qwen3-8b")
    h, q, kv, i = qwen.hidden, qwen.q_dim, qwen.kv_dim, qwen.intermediate
    counted = qwen.layers * (4 * h + 5 * q + 3 * kv + 4 * i) * 4
    assert activation_bytes_per_token(qwen, 4, checkpointing=False, lora_targets=ALL) == counted


def test_qwen3_8b_plans_11_mb_a_token_in_bf16() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_141, vllm=True))
    assert not plan.learner.gradient_checkpointing
    assert plan.learner.activation_bytes_per_token == pytest.approx(10.99e6, rel=0.001)


def test_activations_get_at_most_their_share_of_what_is_left() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_141, vllm=True))
    assert plan.vllm is not None
    room = plan.usable_bytes - plan.vllm.total_bytes - plan.learner.fixed_bytes
    learner = plan.learner
    assert (
        learner.activation_bytes_per_token * learner.micro_batch_tokens <= ACTIVATION_SHARE * room
    )
    assert plan.planned_bytes < 0.9 * plan.usable_bytes  # the H200 plan keeps headroom


def test_checkpointing_keeps_far_less_per_token() -> None:
    for name in ("smollm2-135m", "qwen3-8b"):
        full = activation_bytes_per_token(shape(name), 2, checkpointing=False)
        kept = activation_bytes_per_token(shape(name), 2, checkpointing=True)
        assert kept * 5 < full


@settings(max_examples=60, deadline=None)
@given(
    free_gib=st.floats(min_value=2, max_value=200),
    jobs=st.integers(min_value=1, max_value=8),
    name=st.sampled_from(["smollm2-135m", "llama-1b", "qwen3-8b", "qwen3-32b"]),
    vllm=st.booleans(),
)
def test_a_plan_that_fits_never_hands_out_more_than_is_usable(
    free_gib: float, jobs: int, name: str, vllm: bool
) -> None:
    memory = DeviceMemory("cuda", int(free_gib * GIB) + GIB, int(free_gib * GIB))
    plan_input = replace(request(name, memory, vllm=vllm), jobs=jobs)
    try:
        plan = plan_memory(plan_input)
    except MemoryPlanError:
        return
    assert plan.planned_bytes <= plan.usable_bytes
    assert plan.learner.micro_batch_tokens >= plan_input.max_model_len


@settings(max_examples=40, deadline=None)
@given(
    free_gib=st.floats(min_value=20, max_value=150), more_gib=st.floats(min_value=0, max_value=50)
)
def test_more_memory_never_shrinks_the_micro_batch(free_gib: float, more_gib: float) -> None:
    def tokens(gib: float) -> int:
        memory = DeviceMemory("cuda", 256 * GIB, int(gib * GIB))
        req = replace(request("qwen3-8b", memory, vllm=True), gradient_checkpointing=True)
        try:
            return plan_memory(req).learner.micro_batch_tokens
        except MemoryPlanError:
            return 0

    assert tokens(free_gib + more_gib) >= tokens(free_gib)


def test_the_learner_share_is_there_when_free_plus_reserved_covers_its_peak() -> None:
    plan = plan_memory(request("qwen3-8b", GPU_80, vllm=True))
    peak = plan.learner.total_bytes
    weights = plan.learner.weights_bytes
    assert learner_shortfall_bytes(plan, free_bytes=peak - weights, reserved_bytes=weights) == 0
    short = learner_shortfall_bytes(plan, free_bytes=peak - weights - GIB, reserved_bytes=weights)
    assert short == GIB
    message = shortfall_message(plan, short, peak - weights - GIB)
    assert "RETROSPECT_ENGINE__MICRO_BATCH_TOKENS" in message
    assert "1.0 GiB short" in message
