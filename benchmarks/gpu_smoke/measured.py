"""The learner and sampler of a smoke run, wrapped to time and measure what they do."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from benchmarks.gpu_smoke.memory import PeakMeter
from service.config import EngineSettings, SdpoParams
from service.engine.learner import PeftLearner, micro_batches, row_tokens
from service.engine.types import AdapterRef, DistillationBatch, Sample, SamplingParams, StepMetrics
from service.engine.types import Sampler as SamplerProtocol


@dataclass(frozen=True)
class StepRecord:
    """One learner step: its widest micro-batch in padded tokens, peak bytes and seconds."""

    tokens: int
    response_tokens: int
    peak_bytes: int
    seconds: float
    first: bool
    device_free_at_peak_bytes: int | None = None  # CUDA only


def widest_micro_batch(batch: DistillationBatch, settings: EngineSettings) -> tuple[int, int]:
    """Padded tokens of the step's largest micro-batch (rows x its longest row), and the
    response tokens in it."""
    usable = [e for e in batch.examples if e.teacher_prompt_ids is not None and e.response_ids]
    widest = (0, 0)
    for group in micro_batches(usable, settings):
        longest = max(row_tokens(e) for e in group)
        responses = sum(len(e.response_ids) for e in group)
        widest = max(widest, (len(group) * longest, responses))
    return widest


@dataclass
class MeasuredLearner:
    """A `PeftLearner` whose steps are measured and whose checkpoints are timed."""

    inner: PeftLearner
    device: torch.device
    steps: list[StepRecord] = field(default_factory=list)
    checkpoint_seconds: list[float] = field(default_factory=list)

    def create(self, job_id: str, *, seed: int, sdpo: SdpoParams | None = None) -> None:
        self.inner.create(job_id, seed=seed, sdpo=sdpo)

    def step(self, job_id: str, batch: DistillationBatch) -> StepMetrics:
        meter = PeakMeter(self.device)
        start = time.perf_counter()
        with meter.measure():
            metrics = self.inner.step(job_id, batch)
        tokens, responses = widest_micro_batch(batch, self.inner.settings)
        seconds = time.perf_counter() - start
        record = StepRecord(
            tokens, responses, meter.peak_bytes, seconds, not self.steps, meter.free_at_peak_bytes
        )
        self.steps.append(record)
        return metrics

    def checkpoint(self, job_id: str) -> AdapterRef:
        start = time.perf_counter()
        ref = self.inner.checkpoint(job_id)
        self.checkpoint_seconds.append(time.perf_counter() - start)
        return ref

    def restore(
        self, ref: AdapterRef, *, seed: int = 0, sdpo: SdpoParams | None = None
    ) -> AdapterRef | None:
        return self.inner.restore(ref, seed=seed, sdpo=sdpo)

    def delete(self, job_id: str) -> None:
        self.inner.delete(job_id)


@dataclass
class MeasuredSampler:
    """A sampler whose publishes are timed."""

    inner: SamplerProtocol
    publish_seconds: list[float] = field(default_factory=list)

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        return self.inner.sample(prompt_ids, n, params, adapter)

    def publish(self, adapter: AdapterRef) -> None:
        start = time.perf_counter()
        self.inner.publish(adapter)
        self.publish_seconds.append(time.perf_counter() - start)

    def release(self, job_id: str) -> None:
        self.inner.release(job_id)
