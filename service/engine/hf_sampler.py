"""The transformers sampler (the CPU default, docs/architecture.md §4): `generate` on the
learner's own model.

It shares the `ModelHost` with the learner, so a job's adapter is live the moment the learner
steps it: publishing is choosing the adapter. Only when the job's adapter is not in this
process (no learner here) does `publish` load it from the checkpoint.

Temperature and top-p are applied by our own logits processor instead of transformers'
warpers, which is where each token's log-prob is read: the log-prob of the sampled token
under the temperature-scaled, untruncated distribution (what the learner's IS weight
compares against). Runs are seeded by forking torch's global RNG, which `generate` draws from.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from service.engine import adapters
from service.engine.batch import scored_rows
from service.engine.host import ModelHost
from service.engine.types import AdapterRef, Sample, SamplingParams

# Tokens per character of a stop string, at most (byte-level BPE can split a character in 4).
_TOKENS_PER_CHAR = 4


class HfSampler:
    """`Sampler` over transformers `generate`, sharing the learner's `ModelHost`."""

    def __init__(self, host: ModelHost) -> None:
        self.host = host
        self._loaded: dict[str, AdapterRef] = {}  # adapters this sampler loaded from disk
        self._lock = threading.Lock()

    def sample(
        self,
        prompt_ids: list[int],
        n: int,
        params: SamplingParams,
        adapter: AdapterRef | None,
    ) -> list[Sample]:
        """n continuations of one prompt with the job's live adapter (base model for None)."""
        if n < 1:
            return []
        return self.sample_batch([list(prompt_ids)] * n, params, adapter)

    def sample_batch(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        """One continuation per prompt, generated together with left padding."""
        if not prompts:
            return []
        name = None if adapter is None else self._adapter_name(adapter)
        with self.host.active(name) as model:
            return _generate(model, self.host.tokenizer, prompts, params, self.host.device)

    def publish(self, adapter: AdapterRef) -> None:
        """Make the adapter usable: a no-op when the learner's live copy is here."""
        self._adapter_name(adapter)

    def release(self, job_id: str) -> None:
        """Forget a job; unload its adapter if this sampler loaded it."""
        with self._lock:
            if self._loaded.pop(job_id, None) is not None:
                self.host.delete_adapter(adapters.live_adapter_name(job_id))

    def _adapter_name(self, adapter: AdapterRef) -> str:
        name = adapters.live_adapter_name(adapter.job_id)
        with self._lock:
            loaded = self._loaded.get(adapter.job_id)
            if self.host.has_adapter(name) and (loaded is None or loaded.name == adapter.name):
                return name
            weights = adapters.load_tensors(
                adapter.path / adapters.ADAPTER_FILE, expected_sha256=adapter.sha256
            )
            self.host.delete_adapter(name)
            self.host.load_adapter(name, weights)
            self._loaded[adapter.job_id] = adapter
        return name


def _generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    params: SamplingParams,
    device: torch.device,
) -> list[Sample]:
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    rows = scored_rows(prompts, [[]] * len(prompts), pad_id=pad_id, device=device)
    recorder = _LogprobRecorder(params.temperature, params.top_p)
    criteria = StoppingCriteriaList()
    watch = _StopStringWatch(tokenizer, params.stop, rows.response_start) if params.stop else None
    if watch is not None:
        criteria.append(watch)
    if params.interrupt is not None:
        criteria.append(_Interrupt(params.interrupt))
    with torch.no_grad(), _seeded(params.seed, device):
        sequences = model.generate(
            input_ids=rows.input_ids,
            attention_mask=rows.attention_mask,
            generation_config=_generation_config(params, pad_id, tokenizer.eos_token_id),
            logits_processor=LogitsProcessorList([recorder]),
            stopping_criteria=criteria,
        )
    new_tokens = sequences[:, rows.response_start :]
    logprobs = recorder.finish(new_tokens)
    hits = watch.hit_lengths if watch is not None else {}
    return [
        _sample(tokenizer, new_tokens[row], logprobs[row], hits.get(row), params.max_new_tokens)
        for row in range(new_tokens.shape[0])
    ]


class _Interrupt(StoppingCriteria):
    """Stops every row once `interrupt()` says so (the job was cancelled)."""

    def __init__(self, interrupt: Callable[[], bool]) -> None:
        self.interrupt = interrupt

    def __call__(self, input_ids: Tensor, scores: Tensor, **kwargs: Any) -> Tensor:
        stop = self.interrupt()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def _generation_config(params: SamplingParams, pad_id: int, eos_id: int) -> GenerationConfig:
    """Plain sampling; every warper that a model's own generation_config might add is neutral."""
    options: dict[str, Any] = {
        "max_new_tokens": params.max_new_tokens,
        "do_sample": params.temperature > 0.0,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "typical_p": 1.0,
        "repetition_penalty": 1.0,
        "num_beams": 1,
        "pad_token_id": pad_id,
        "eos_token_id": eos_id,
    }
    config: GenerationConfig = GenerationConfig.from_dict(options)
    return config


def _sample(
    tokenizer: Any, tokens: Tensor, logprobs: Tensor, stop_length: int | None, max_new: int
) -> Sample:
    """Cut a row after its first EOS or stop string (what follows is padding)."""
    ids = tokens.tolist()
    ends = [ids.index(tokenizer.eos_token_id) + 1] if tokenizer.eos_token_id in ids else []
    if stop_length is not None:
        ends.append(stop_length)
    length = min(ends, default=len(ids))
    kept = ids[:length]
    return Sample(
        token_ids=tuple(kept),
        logprobs=tuple(float(x) for x in logprobs[:length].tolist()),
        text=tokenizer.decode(kept, skip_special_tokens=True),
        truncated=not ends and length >= max_new,
    )


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG for the block and restore it afterwards (no seed: untouched)."""
    if seed is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _LogprobRecorder(LogitsProcessor):
    """Applies T and top-p, and records each sampled token's log-prob under softmax(logits/T).

    Called once per step with the ids so far: at step k it reads the log-prob of the token
    drawn at step k−1 from the distribution it returned then; `finish` reads the last one.
    """

    def __init__(self, temperature: float, top_p: float) -> None:
        self.temperature = temperature if temperature > 0.0 else 1.0
        self.top_p = top_p
        self.steps: list[Tensor] = []
        self._last: Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        self._record(input_ids[:, -1])
        logp = F.log_softmax(scores.float() / self.temperature, dim=-1)
        self._last = logp
        return _nucleus(logp, self.top_p) if self.top_p < 1.0 else logp

    def finish(self, new_tokens: Tensor) -> Tensor:
        """Log-probs `[n, N]` aligned with the generated tokens."""
        if len(self.steps) < new_tokens.shape[1]:
            self._record(new_tokens[:, -1])
        if not self.steps:
            return torch.zeros(new_tokens.shape, device=new_tokens.device)
        return torch.stack(self.steps, dim=1).cpu()

    def _record(self, tokens: Tensor) -> None:
        if self._last is not None:
            self.steps.append(self._last.gather(-1, tokens.unsqueeze(-1)).squeeze(-1))
            self._last = None


def _nucleus(logp: Tensor, top_p: float) -> Tensor:
    """Keep the smallest set of tokens whose mass reaches top_p (at least one); others −inf."""
    sorted_logp, order = logp.sort(dim=-1, descending=True)
    mass_before = sorted_logp.exp().cumsum(-1) - sorted_logp.exp()
    drop_sorted = mass_before >= top_p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logp.masked_fill(drop, float("-inf"))


class _StopStringWatch(StoppingCriteria):
    """Stops a row once its generated text contains a stop string; remembers where."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_length = prompt_length
        self.window_tokens = _TOKENS_PER_CHAR * max(len(s) for s in stops) + 1
        self.hit_lengths: dict[int, int] = {}

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> Any:
        generated = input_ids[:, self.prompt_length :]
        for row in range(generated.shape[0]):
            if row not in self.hit_lengths and self._has_stop(
                generated[row, -self.window_tokens :]
            ):
                self.hit_lengths[row] = generated.shape[1]
        done = [row in self.hit_lengths for row in range(generated.shape[0])]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _has_stop(self, tail: Tensor) -> bool:
        text = self.tokenizer.decode(tail.tolist())
        return any(stop in text for stop in self.stops)
