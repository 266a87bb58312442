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
    GIB,
    DeviceMemory,
    MemoryPlanError,
    PlanRequest,
    activation_bytes_per_token,
    plan_memory,
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
