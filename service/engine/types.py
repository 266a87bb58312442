"""The engine's contracts: what samplers return and how adapters are named.

The solver sees the engine only through these types and the `Sampler` / `Learner` protocols,
so unit tests use one-page fakes and integration tests the real transformers / vLLM parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; T=1.0 and no top-k/top-p truncation are SDPO's on-policy defaults."""

    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One sampled continuation: its exact token ids, their sampler log-probs, and its text."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    text: str
    truncated: bool = False


@dataclass(frozen=True)
class AdapterRef:
    """A published adapter version. `name` and `int_id` are never reused (vLLM keys caches on them)."""

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
