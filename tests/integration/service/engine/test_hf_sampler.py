"""The transformers sampler on the real default model (CPU): seeds, log-probs, stops, adapters."""

from __future__ import annotations

import pytest
import torch

from service.config import EngineSettings
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner
from service.engine.types import DistillationBatch, DistillationExample, SamplingParams
from tests.conftest import TEST_MODEL
from tests.integration.service.engine.hf_support import load_host

pytestmark = pytest.mark.model

SETTINGS = EngineSettings(model=TEST_MODEL, device="cpu", learning_rate=1e-3)
# Sampler (left-padded, KV-cached, batched) vs learner (one row, full forward), both fp32:
# the same math in a different order. Seen: up to 2e-5; the bound leaves 10x headroom.
LOGPROB_TOLERANCE = 2e-4
TOKENS = 16


@pytest.fixture(scope="module")
def host() -> ModelHost:
    return load_host(SETTINGS)


@pytest.fixture(scope="module")
def prompt(host) -> list[int]:
    messages = [{"role": "user", "content": "Write a Python function add(a, b)."}]
    return list(
        host.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    )


@pytest.fixture
def learner(host, tmp_path):
    learner = PeftLearner(host, SETTINGS, tmp_path / "adapters")
    yield learner
    for job_id in list(learner._jobs):
        learner.delete(job_id)


def sampled_logprobs(learner, job_id, prompt, sample, temperature=1.0) -> torch.Tensor:
    logits = learner.response_logits(job_id, prompt, list(sample.token_ids)) / temperature
    ids = torch.tensor(sample.token_ids).unsqueeze(-1)
    return logits.log_softmax(-1).gather(-1, ids).squeeze(-1)


def test_same_seed_reproduces_and_logprobs_match_the_learner(host, learner, prompt):
    sampler = HfSampler(host)
    params = SamplingParams(max_new_tokens=TOKENS, temperature=0.7, seed=11)
    first = sampler.sample(prompt, 3, params, None)
    again = sampler.sample(prompt, 3, params, None)
    assert [s.token_ids for s in first] == [s.token_ids for s in again]
    other_seed = sampler.sample(prompt, 3, SamplingParams(max_new_tokens=TOKENS, seed=12), None)
    assert [s.token_ids for s in other_seed] != [s.token_ids for s in first]
    for sample in first:
        assert len(sample.token_ids) == len(sample.logprobs) <= TOKENS
        assert sample.text == host.tokenizer.decode(sample.token_ids, skip_special_tokens=True)
        want = sampled_logprobs(learner, None, prompt, sample, temperature=0.7)
        assert torch.allclose(torch.tensor(sample.logprobs), want, atol=LOGPROB_TOLERANCE)


def test_batched_prompts_are_left_padded(host, learner, prompt):
    short = prompt[:-8] + prompt[-3:]
    sampler = HfSampler(host)
    samples = sampler.sample_batch([prompt, short], SamplingParams(max_new_tokens=8, seed=3), None)
    for used, sample in zip((prompt, short), samples, strict=True):
        want = sampled_logprobs(learner, None, used, sample)
        assert torch.allclose(torch.tensor(sample.logprobs), want, atol=LOGPROB_TOLERANCE)


def test_stops_at_eos_at_stop_strings_and_at_the_token_limit(host, prompt):
    sampler = HfSampler(host)
    eos = host.tokenizer.eos_token_id
    for sample in sampler.sample(prompt, 4, SamplingParams(max_new_tokens=6, seed=5), None):
        assert sample.truncated == (len(sample.token_ids) == 6 and sample.token_ids[-1] != eos)
    stopped = sampler.sample(
        prompt, 3, SamplingParams(max_new_tokens=40, seed=5, stop=("\n",)), None
    )
    for sample in stopped:
        ids = list(sample.token_ids)
        assert "\n" in host.tokenizer.decode(ids) or ids[-1] == eos or sample.truncated
        assert "\n" not in host.tokenizer.decode(ids[:-1]), "generation stops at the first newline"


def test_small_top_p_or_temperature_is_greedy(host, prompt):
    sampler = HfSampler(host)
    greedy = sampler.sample(prompt, 1, SamplingParams(max_new_tokens=10, temperature=0.0), None)
    nucleus = sampler.sample(prompt, 2, SamplingParams(max_new_tokens=10, top_p=1e-6, seed=1), None)
    assert {s.token_ids for s in nucleus} == {greedy[0].token_ids}


def test_adapters_are_live_and_loadable_from_a_checkpoint(host, learner, prompt):
    sampler = HfSampler(host)
    learner.create("live", seed=0)
    params = SamplingParams(max_new_tokens=TOKENS, seed=21)
    base = sampler.sample(prompt, 2, params, None)
    response = base[0].token_ids
    batch = DistillationBatch(
        (DistillationExample(tuple(prompt), tuple(prompt[:-3]) + (198, 1, 520), response),)
    )
    for _ in range(2):
        learner.step("live", batch)
    ref = learner.checkpoint("live")
    live = sampler.sample(prompt, 2, params, ref)
    assert [s.token_ids for s in sampler.sample(prompt, 2, params, None)] == [
        s.token_ids for s in base
    ], "adapter=None samples from the base model"
    for sample in live:
        want = sampled_logprobs(learner, "live", prompt, sample)
        assert torch.allclose(torch.tensor(sample.logprobs), want, atol=LOGPROB_TOLERANCE)

    learner.delete("live")  # now only the checkpoint holds the adapter
    sampler.publish(ref)
    assert [s.token_ids for s in sampler.sample(prompt, 2, params, ref)] == [
        s.token_ids for s in live
    ]
    sampler.release("live")
    assert not host.has_adapter("job_live")


def test_jobs_batched_together_get_the_samples_they_get_alone(host, learner, prompt):
    """Two jobs with their own adapter, one on the base model, different seeds, temperatures
    and token limits: one mixed-adapter batch gives each exactly its samples from alone."""
    from service.engine.sharing import SharedSampler
    from service.engine.types import SampleRequest

    other_prompt = list(
        host.tokenizer.apply_chat_template(
            [{"role": "user", "content": "Print the squares of 1 to 5 in Python."}],
            add_generation_prompt=True, tokenize=True, return_dict=False,
        )
    )  # fmt: skip
    refs = []
    for job in ("mix-a", "mix-b"):
        learner.create(job, seed=len(refs))
        example = DistillationExample(tuple(prompt), tuple(other_prompt), tuple(prompt[-6:]))
        learner.step(job, DistillationBatch((example,)))
        refs.append(learner.checkpoint(job))
    requests = [
        SampleRequest(tuple(prompt), 3, SamplingParams(max_new_tokens=TOKENS, seed=1), refs[0]),
        SampleRequest(tuple(other_prompt), 2,
                      SamplingParams(max_new_tokens=TOKENS // 2, seed=2, temperature=0.7), refs[1]),
        SampleRequest(tuple(prompt), 2, SamplingParams(max_new_tokens=TOKENS, seed=3), None),
    ]  # fmt: skip
    sampler = HfSampler(host)
    alone = [sampler.sample_many([request])[0] for request in requests]
    together = sampler.sample_many(requests)
    assert [[s.token_ids for s in got] for got in together] == [
        [s.token_ids for s in got] for got in alone
    ]
    for got, expected in zip(together, alone, strict=True):
        for batched, single in zip(got, expected, strict=True):
            gaps = [abs(a - b) for a, b in zip(batched.logprobs, single.logprobs, strict=True)]
            assert max(gaps, default=0.0) < LOGPROB_TOLERANCE
    assert all(len(s.token_ids) <= TOKENS // 2 for s in together[1])
    # The adapters are really applied per row: job a's rows differ from the base model's.
    base = sampler.sample_many([SampleRequest(tuple(prompt), 3, requests[0].params, None)])[0]
    if [s.token_ids for s in base] == [s.token_ids for s in together[0]]:
        pairs = zip(base, together[0], strict=True)
        gaps = [abs(a - b) for x, y in pairs for a, b in zip(x.logprobs, y.logprobs, strict=True)]
        assert max(gaps) > 10 * LOGPROB_TOLERANCE
    # Through the shared sampler, as a worker's job threads call it, the same samples.
    shared = SharedSampler(sampler, window_s=0.0)
    assert [s.token_ids for s in shared.sample(list(prompt), 3, requests[0].params, refs[0])] == [
        s.token_ids for s in alone[0]
    ]
