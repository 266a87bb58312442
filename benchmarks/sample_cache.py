"""Base-model samples kept on disk, so that benchmarks describing the same attempts (the
extraction rules, the learnability probe) draw them once.

Only base-model calls (`adapter=None`) with a seed are cached: those are a pure function of
the model, the prompt and the sampling settings. The key holds all of them, and the model's
identity is its folder plus its weights' sizes and times, so a changed model misses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from service.engine.types import AdapterRef, Sample, Sampler, SamplingParams

CACHE_DIR = Path(__file__).resolve().parent / "results" / "samples"


def model_identity(model_dir: Path, dtype: str) -> str:
    """The model folder, its weights' sizes and modification times, and the dtype."""
    weights = sorted(model_dir.glob("*.safetensors"))
    stamp = [(w.name, w.stat().st_size, int(w.stat().st_mtime)) for w in weights]
    return json.dumps([str(model_dir.resolve()), stamp, dtype])


class CachingSampler:
    """A `Sampler` that answers repeated seeded base-model calls from `cache_dir`."""

    def __init__(self, inner: Sampler, identity: str, cache_dir: Path = CACHE_DIR) -> None:
        self.inner = inner
        self.identity = identity
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        if adapter is not None or params.seed is None or params.interrupt is not None:
            return self.inner.sample(prompt_ids, n, params, adapter)
        path = self.cache_dir / f"{self._key(prompt_ids, n, params)}.json"
        if path.exists():
            self.hits += 1
            return [_sample(row) for row in json.loads(path.read_text())]
        self.misses += 1
        samples = self.inner.sample(prompt_ids, n, params, adapter)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps([asdict(s) for s in samples]))
        partial.replace(path)
        return samples

    def publish(self, adapter: AdapterRef) -> None:
        self.inner.publish(adapter)

    def release(self, job_id: str) -> None:
        self.inner.release(job_id)

    def _key(self, prompt_ids: list[int], n: int, params: SamplingParams) -> str:
        settings = {k: v for k, v in asdict(params).items() if k != "interrupt"}
        text = json.dumps([self.identity, list(prompt_ids), n, settings], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sample(row: dict[str, object]) -> Sample:
    return Sample(
        token_ids=tuple(row["token_ids"]),  # type: ignore[arg-type]
        logprobs=tuple(row["logprobs"]),  # type: ignore[arg-type]
        text=str(row["text"]),
        truncated=bool(row["truncated"]),
    )
