"""One-page fakes of the solver's parts: tokenizer, sampler, learner, judge, clock.

The fake tokenizer maps each character to one token (its code point), so prompts decode back
to text. The fake judge decides from the response text:
- `PASS` passes the public tests; with `HIDDENFAIL` the hidden tests then fail, with `FLAKY`
  the confirming re-run fails;
- `NOFORMAT` is a format error; anything else is a wrong answer whose output is
  `value-<n>` for a response holding `ATTEMPT-<n>`.
Hidden cases carry `SECRET` text, which must never reach feedback or prompts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.extract import extract_solution
from sandbox.results import CaseResult, SuiteResult, Verdict
from sandbox.solution import Solution
from service.config import SdpoParams
from service.engine.types import (
    AdapterRef,
    DistillationBatch,
    Sample,
    SamplingParams,
    StepMetrics,
)

SECRET = "SECRET"


def decode(ids: list[int] | tuple[int, ...]) -> str:
    """Text of fake token ids."""
    return "".join(chr(i) for i in ids)


def attempt_text(n: int, body: str = "return 0") -> str:
    """A fenced response tagged with its sample ordinal."""
    return f"```python\n# ATTEMPT-{n}\n{body}\n```"


class FakeTokenizer:
    """Chat template: `<role>content` per message, then `<assistant>`; one token per char."""

    def apply_chat_template(self, conversation: list[dict[str, str]], **kwargs: Any) -> list[int]:
        text = "".join(f"<{m['role']}>{m['content']}" for m in conversation) + "<assistant>"
        return [ord(c) for c in text]


@dataclass
class FakeClock:
    """A monotonic clock that only moves when told."""

    now: float = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SampleCall:
    prompt_ids: list[int]
    n: int
    params: SamplingParams
    adapter: AdapterRef | None


@dataclass
class FakeSampler:
    """Responses come from `script(ordinal)`, the ordinal counting every sample drawn."""

    script: Callable[[int], str] = attempt_text
    clock: FakeClock | None = None
    seconds_per_call: float = 0.0
    truncated: bool = False
    on_sample: Callable[[], None] | None = None
    calls: list[SampleCall] = field(default_factory=list)
    published: list[AdapterRef] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def sample(
        self, prompt_ids: list[int], n: int, params: SamplingParams, adapter: AdapterRef | None
    ) -> list[Sample]:
        drawn = sum(call.n for call in self.calls)
        self.calls.append(SampleCall(list(prompt_ids), n, params, adapter))
        if self.on_sample is not None:
            self.on_sample()
        if self.clock is not None:
            self.clock.advance(self.seconds_per_call)
        return [self._sample(self.script(drawn + i)) for i in range(n)]

    def _sample(self, text: str) -> Sample:
        ids = tuple(ord(c) for c in text)
        return Sample(ids, tuple(-0.5 for _ in ids), text, truncated=self.truncated)

    def publish(self, adapter: AdapterRef) -> None:
        self.published.append(adapter)

    def release(self, job_id: str) -> None:
        self.released.append(job_id)


@dataclass
class FakeLearner:
    """Records every call, and the overrides of each create/restore; each checkpoint is a new
    version."""

    clock: FakeClock | None = None
    seconds_per_step: float = 0.0
    calls: list[str] = field(default_factory=list)
    batches: list[DistillationBatch] = field(default_factory=list)
    overrides: list[dict[str, Any] | None] = field(default_factory=list)
    version: int = 0
    state_lost: bool = False  # restore finds no durable checkpoint

    def create(self, job_id: str, *, seed: int, sdpo: SdpoParams | None = None) -> None:
        self.calls.append("create")
        self.overrides.append(None if sdpo is None else sdpo.overrides())

    def step(self, job_id: str, batch: DistillationBatch) -> StepMetrics:
        self.calls.append("step")
        self.batches.append(batch)
        if self.clock is not None:
            self.clock.advance(self.seconds_per_step)
        return StepMetrics(loss=0.5, kl=0.25, grad_norm=1.5, seconds=0.1, tokens=10)

    def checkpoint(self, job_id: str) -> AdapterRef:
        self.calls.append("checkpoint")
        self.version += 1
        return make_ref(job_id, self.version)

    def restore(
        self, ref: AdapterRef, *, seed: int = 0, sdpo: SdpoParams | None = None
    ) -> AdapterRef | None:
        self.calls.append("restore")
        self.overrides.append(None if sdpo is None else sdpo.overrides())
        self.version = ref.version
        return None if self.state_lost else ref

    def delete(self, job_id: str) -> None:
        self.calls.append("delete")


def make_ref(job_id: str, version: int) -> AdapterRef:
    name = f"{job_id}-v{version}"
    return AdapterRef(job_id, version, name, version, Path("/nonexistent") / name)


@dataclass
class FakeJudge:
    """See the module docstring; `on_public` runs inside each public judgement."""

    clock: FakeClock | None = None
    seconds_per_run: float = 0.0
    on_public: Callable[[], None] | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_suite(self, program: str, problem: Any, split: str = "public") -> SuiteResult:
        with self._lock:
            self.calls.append((program, split))
            if self.clock is not None:
                self.clock.advance(self.seconds_per_run)
        if split == "public":
            if self.on_public is not None:
                self.on_public()
            return _public(program)
        failed = ("HIDDENFAIL" in program) if split == "hidden" else ("FLAKY" in program)
        return _hidden_failure() if failed else _accepted(hidden=True)

    def extract(self, program: str, problem: Any) -> Solution | None:
        return extract_solution(program)

    def splits(self) -> list[str]:
        return [split for _, split in self.calls]


def _public(program: str) -> SuiteResult:
    if "NOFORMAT" in program:
        return SuiteResult(verdict=Verdict.FORMAT_ERROR, passed=0, total=1, detail="no code")
    if "PASS" in program:
        return _accepted(hidden=False)
    tag = re.search(r"ATTEMPT-(\d+)", program)
    case = CaseResult(
        index=0,
        verdict=Verdict.WRONG_ANSWER,
        input_excerpt="[1, 2]",
        expected_excerpt="3",
        actual_excerpt=f"value-{tag.group(1) if tag else 'x'}",
    )
    return SuiteResult(verdict=Verdict.WRONG_ANSWER, passed=0, total=1, cases=[case])


def _accepted(*, hidden: bool) -> SuiteResult:
    case = CaseResult(index=0, hidden=hidden, verdict=Verdict.ACCEPTED)
    return SuiteResult(verdict=Verdict.ACCEPTED, passed=1, total=1, cases=[case])


def _hidden_failure() -> SuiteResult:
    case = CaseResult(
        index=0,
        hidden=True,
        verdict=Verdict.WRONG_ANSWER,
        input_excerpt=f"{SECRET}-INPUT",
        expected_excerpt=f"{SECRET}-EXPECTED",
        actual_excerpt="1",
    )
    return SuiteResult(verdict=Verdict.WRONG_ANSWER, passed=0, total=1, cases=[case])
