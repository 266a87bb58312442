"""The transformers sampler (the CPU default, docs/architecture.md §4): `generate` on the
learner's own model.

It shares the `ModelHost` with the learner, so a job's adapter is live the moment the learner
steps it: publishing is choosing the adapter. Only when the job's adapter is not in this
process (no learner here) does `publish` load it from the checkpoint.

Tokens are chosen by our own logits processor (`row_sampling.py`), one seeded random stream
per row, with each row's temperature and top-p, which is also where each token's log-prob is
read. `sample_many` serves several jobs at once: one `generate` whose rows carry their own
adapters (`row_adapters.py`: each job's rows as one slice), so a job's samples do not
depend on its batch-mates.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from transformers import (
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from service.engine import adapters
from service.engine.batch import scored_rows
from service.engine.host import ModelHost
from service.engine.row_adapters import BASE
from service.engine.row_sampling import RowPolicy, RowSampler, row_seed
from service.engine.torch_thread import on_torch_thread
from service.engine.types import AdapterRef, Sample, SampleRequest, SamplingParams

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
        return self.sample_many([SampleRequest(tuple(prompt_ids), n, params, adapter)])[0]

    @on_torch_thread
    def sample_many(self, requests: Sequence[SampleRequest]) -> list[list[Sample]]:
        """Every request's samples from one `generate`, each row with its request's adapter
        (`host.per_row`), seed, temperature, top-p, token limit and interrupt."""
        live = [r for r in requests if r.n > 0]
        if not live:
            return [[] for _ in requests]
        rows = _Rows.of(live, [self._row_adapter(r.adapter) for r in live])
        with self.host.lock, self._adapters_for(rows.adapter_names) as model:
            samples = _generate(model, self.host.tokenizer, rows, self.host.device)
        by_request = iter(_split(samples, [r.n for r in live]))
        return [next(by_request) if r.n > 0 else [] for r in requests]

    def sample_batch(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        """One continuation per prompt, generated together with left padding."""
        requests = [SampleRequest(tuple(p), 1, params, adapter) for p in prompts]
        return [samples[0] for samples in self.sample_many(requests)]

    @on_torch_thread
    def publish(self, adapter: AdapterRef) -> None:
        """Make the adapter usable: a no-op when the learner's live copy is here."""
        self._adapter_name(adapter)

    @on_torch_thread
    def release(self, job_id: str) -> None:
        """Forget a job; unload its adapter if this sampler loaded it."""
        with self._lock:
            if self._loaded.pop(job_id, None) is not None:
                self.host.delete_adapter(adapters.live_adapter_name(job_id))

    def _row_adapter(self, adapter: AdapterRef | None) -> str:
        return BASE if adapter is None else self._adapter_name(adapter)

    @contextlib.contextmanager
    def _adapters_for(self, names: Sequence[str]) -> Iterator[Any]:
        """The model with each row's adapter: one adapter (or none) the plain way, several
        through peft's per-row `adapter_names`."""
        distinct = set(names)
        if len(distinct) == 1:
            (only,) = distinct
            with self.host.active(None if only == BASE else only) as model:
                yield model
            return
        with self.host.per_row(list(names)) as model:
            yield model

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


@dataclass(frozen=True)
class _Rows:
    """A batch's rows: prompt, adapter, policy, token limit and interrupt of each."""

    prompts: list[tuple[int, ...]]
    adapter_names: list[str]
    policies: list[RowPolicy]
    max_new_tokens: list[int]
    interrupts: list[Callable[[], bool] | None]
    stops: tuple[str, ...]

    @classmethod
    def of(cls, requests: Sequence[SampleRequest], names: Sequence[str]) -> _Rows:
        stops = {r.params.stop for r in requests}
        if len(stops) > 1:
            raise ValueError("requests with different stop strings cannot share a batch")
        rows = [(r, name, i) for r, name in zip(requests, names, strict=True) for i in range(r.n)]
        return cls(
            prompts=[r.prompt_ids for r, _, _ in rows],
            adapter_names=[name for _, name, _ in rows],
            policies=[
                RowPolicy(row_seed(r.params.seed, i), r.params.temperature, r.params.top_p)
                for r, _, i in rows
            ],
            max_new_tokens=[r.params.max_new_tokens for r, _, _ in rows],
            interrupts=[r.params.interrupt for r, _, _ in rows],
            stops=stops.pop(),
        )


def _generate(model: Any, tokenizer: Any, rows: _Rows, device: torch.device) -> list[Sample]:
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    scored = scored_rows(rows.prompts, [[]] * len(rows.prompts), pad_id=pad_id, device=device)
    chooser = RowSampler(rows.policies, device)
    criteria = StoppingCriteriaList()
    watch = _StopStringWatch(tokenizer, rows.stops, scored.response_start) if rows.stops else None
    if watch is not None:
        criteria.append(watch)
    if any(rows.interrupts):
        criteria.append(_Interrupt(rows.interrupts))
    with torch.no_grad():
        sequences = model.generate(
            input_ids=scored.input_ids,
            attention_mask=scored.attention_mask,
            generation_config=_generation_config(max(rows.max_new_tokens), pad_id, tokenizer),
            logits_processor=LogitsProcessorList([chooser]),
            stopping_criteria=criteria,
        )
    new_tokens = sequences[:, scored.response_start :]
    logprobs = chooser.finish(new_tokens)
    hits = watch.hit_lengths if watch is not None else {}
    return [
        _sample(tokenizer, new_tokens[row, :limit], logprobs[row, :limit], hits.get(row), limit)
        for row, limit in enumerate(rows.max_new_tokens)
    ]


def _split(samples: Sequence[Sample], counts: Sequence[int]) -> list[list[Sample]]:
    out, start = [], 0
    for count in counts:
        out.append(list(samples[start : start + count]))
        start += count
    return out


class _Interrupt(StoppingCriteria):
    """Stops a row once its request's `interrupt()` says so (that job was cancelled)."""

    def __init__(self, interrupts: Sequence[Callable[[], bool] | None]) -> None:
        self.interrupts = list(interrupts)

    def __call__(self, input_ids: Tensor, scores: Tensor, **kwargs: Any) -> Tensor:
        answers: dict[int, bool] = {}  # each distinct interrupt is asked once a step
        stop = [
            check is not None and answers.setdefault(id(check), check())
            for check in self.interrupts
        ]
        return torch.tensor(stop, dtype=torch.bool, device=input_ids.device)


def _generation_config(max_new_tokens: int, pad_id: int, tokenizer: Any) -> GenerationConfig:
    """Greedy over `RowSampler`'s forced logits; every warper a model's own generation_config
    might add is neutral."""
    options: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "repetition_penalty": 1.0,
        "num_beams": 1,
        "pad_token_id": pad_id,
        "eos_token_id": tokenizer.eos_token_id,
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
