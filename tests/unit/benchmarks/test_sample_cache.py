"""Seeded base-model samples answered from disk; everything else passes through."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sample_cache import CachingSampler
from service.engine.types import AdapterRef, Sample, SamplingParams


class CountingSampler:
    def __init__(self) -> None:
        self.calls = 0

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        self.calls += 1
        return [
            Sample((self.calls, i), (-0.5, -0.25), f"text {self.calls}", i == 0) for i in range(n)
        ]

    def publish(self, adapter: AdapterRef) -> None: ...

    def release(self, job_id: str) -> None: ...


def test_a_repeated_seeded_call_is_read_back_exactly(tmp_path: Path) -> None:
    inner = CountingSampler()
    cache = CachingSampler(inner, "model-a", tmp_path)
    params = SamplingParams(max_new_tokens=16, seed=3)
    first = cache.sample([1, 2, 3], 2, params, None)
    again = CachingSampler(CountingSampler(), "model-a", tmp_path).sample(
        [1, 2, 3], 2, params, None
    )
    assert again == first and inner.calls == 1


def test_any_difference_in_the_call_or_the_model_misses(tmp_path: Path) -> None:
    inner = CountingSampler()
    cache = CachingSampler(inner, "model-a", tmp_path)
    params = SamplingParams(max_new_tokens=16, seed=3)
    cache.sample([1, 2], 2, params, None)
    cache.sample([1, 2], 3, params, None)
    cache.sample([1, 2], 2, SamplingParams(max_new_tokens=16, seed=4), None)
    cache.sample([1, 2], 2, SamplingParams(max_new_tokens=16, seed=3, temperature=0.5), None)
    CachingSampler(inner, "model-b", tmp_path).sample([1, 2], 2, params, None)
    assert inner.calls == 5


def test_unseeded_or_adapted_calls_are_never_cached(tmp_path: Path) -> None:
    inner = CountingSampler()
    cache = CachingSampler(inner, "model-a", tmp_path)
    adapter = AdapterRef("job", 1, "job-v1", 1, tmp_path)
    for _ in range(2):
        cache.sample([1], 1, SamplingParams(), None)
        cache.sample([1], 1, SamplingParams(seed=1), adapter)
    assert inner.calls == 4 and not list(tmp_path.iterdir())
