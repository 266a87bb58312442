"""The engine's contracts: what samplers return and how adapters are named.

The solver sees the engine only through these types and the `Sampler` / `Learner` protocols,
so unit tests use one-page fakes and integration tests the real transformers / vLLM parts.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from service.config import SdpoParams


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; T=1.0 and no top-k/top-p truncation are SDPO's on-policy defaults."""

    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Polled between decoding steps by samplers that can stop early (the transformers one),
    # so a cancel request need not wait for a whole round of generation.
    interrupt: Callable[[], bool] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SampleRequest:
    """One job's share of a sampling batch: `n` continuations of its prompt with its adapter."""

    prompt_ids: tuple[int, ...]
    n: int
    params: SamplingParams
    adapter: AdapterRef | None


@dataclass(frozen=True)
class Sample:
    """One sampled continuation: its exact token ids, their sampler log-probs, and its text."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    text: str
    truncated: bool = False


# The weights file in an adapter's checkpoint directory (`AdapterRef.path`): what peft and vLLM
# load, and what the API serves as the job's adapter.
ADAPTER_FILE = "adapter_model.safetensors"


_int_ids = itertools.count(1)
_int_ids_lock = threading.Lock()


def next_int_id() -> int:
    """A process-wide integer id, never handed out twice (vLLM keys its caches on it)."""
    with _int_ids_lock:
        return next(_int_ids)


@dataclass(frozen=True)
class AdapterRef:
    """A published adapter version.

    `name` and `int_id` are never reused: vLLM keys its caches on them.
    """

    job_id: str
    version: int
    name: str
    int_id: int
    path: Path
    sha256: str = ""


@dataclass(frozen=True)
class StepMetrics:
    """What one learner step reports (the `learner.step` event)."""

    loss: float
    kl: float
    grad_norm: float
    seconds: float
    tokens: int
    extras: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DistillationExample:
    """One attempt to learn from: the student prompt, its teacher prompt and the exact response.

    `teacher_prompt_ids=None` marks an attempt without feedback: it contributes nothing but
    still counts in the batch's sequence mean (docs/algorithm.md §4). `sampler_logprobs`
    (one per response token) enable the truncated importance weight; None means weight 1.
    """

    prompt_ids: tuple[int, ...]
    teacher_prompt_ids: tuple[int, ...] | None
    response_ids: tuple[int, ...]
    sampler_logprobs: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.prompt_ids or (
            self.teacher_prompt_ids is not None and not self.teacher_prompt_ids
        ):
            raise ValueError("prompt_ids and teacher_prompt_ids must not be empty")
        if self.sampler_logprobs is not None and len(self.sampler_logprobs) != len(
            self.response_ids
        ):
            raise ValueError(
                f"sampler_logprobs has {len(self.sampler_logprobs)} values for "
                f"{len(self.response_ids)} response tokens"
            )

    @classmethod
    def from_sample(
        cls, prompt_ids: Sequence[int], teacher_prompt_ids: Sequence[int] | None, sample: Sample
    ) -> DistillationExample:
        """The example for a sampled attempt, with the sampler's own token ids and log-probs."""
        return cls(
            prompt_ids=tuple(prompt_ids),
            teacher_prompt_ids=None if teacher_prompt_ids is None else tuple(teacher_prompt_ids),
            response_ids=sample.token_ids,
            sampler_logprobs=sample.logprobs,
        )


@dataclass(frozen=True)
class DistillationBatch:
    """The attempts of one SDPO step, sampled at `temperature` (the logits are scaled by it)."""

    examples: tuple[DistillationExample, ...]
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")


class Learner(Protocol):
    """Owns one LoRA adapter per job and takes SDPO steps on it."""

    def create(self, job_id: str, *, seed: int, sdpo: SdpoParams | None = None) -> None:
        """Start a job's adapter from a seeded initialisation (the base model's behaviour).

        `sdpo`: the job's own SDPO hyperparameters; the fields it leaves unset take the
        worker's settings.
        """
        ...

    def step(self, job_id: str, batch: DistillationBatch) -> StepMetrics:
        """One optimizer step of SDPO on the job's adapter."""
        ...

    def checkpoint(self, job_id: str) -> AdapterRef:
        """Write the job's adapter (and, as often as resume needs, its learner state).

        Returns a fresh, unique ref; old versions beyond the newest few are pruned.
        """
        ...

    def restore(
        self, ref: AdapterRef, *, seed: int = 0, sdpo: SdpoParams | None = None
    ) -> AdapterRef | None:
        """Load a job from its newest checkpoint with learner state, at or before `ref`.

        It continues exactly as from that checkpoint. Returns the adapter to publish: the
        restored weights under a fresh name and int id (a sampler may have seen `ref`'s).
        Where no such checkpoint survived, the job starts again as `create(seed=seed)` would,
        its versions continuing after `ref`'s, and None is returned (nothing to publish).
        `sdpo` as for `create`: the job's own, which a checkpoint does not hold.
        """
        ...

    def delete(self, job_id: str) -> None:
        """Forget a job's adapter, teacher and optimizer."""
        ...


class BatchSampler(Protocol):
    """A sampler that serves several jobs' requests in one batch, each with its own adapter.

    Each request's samples are what `sample` alone would return for it (seeded per request).
    """

    def sample_many(self, requests: Sequence[SampleRequest]) -> list[list[Sample]]:
        """The samples of each request, in request order."""
        ...

    def publish(self, adapter: AdapterRef) -> None:
        """As `Sampler.publish`."""
        ...

    def release(self, job_id: str) -> None:
        """As `Sampler.release`."""
        ...


class Sampler(Protocol):
    """Draws `n` continuations of one prompt, with the job's adapter when given."""

    def sample(
        self,
        prompt_ids: list[int],
        n: int,
        params: SamplingParams,
        adapter: AdapterRef | None,
    ) -> list[Sample]: ...

    def publish(self, adapter: AdapterRef) -> None:
        """Make `adapter` usable by later `sample` calls (and drop its job's previous version)."""
        ...

    def release(self, job_id: str) -> None:
        """Forget every adapter of a job."""
        ...
