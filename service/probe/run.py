"""One probe run: sound problems, failing attempts, scores, summary, with where time went."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from service.engine.host import ModelHost
from service.engine.types import Sampler, SamplingParams
from service.probe.attempts import Failure, ProbeProblem, collect, sound
from service.probe.scoring import score
from service.probe.summary import Scored, Summary, summarize
from service.solver.attempts import Judge
from service.solver.prompts import DEFAULT_PROMPT_STYLE, ChatTokenizer, PromptStyle


@dataclass(frozen=True)
class ProbeConfig:
    """How many attempts each problem gets, and how they are sampled."""

    attempts_per_problem: int = 4
    max_new_tokens: int = 192
    temperature: float = 1.0
    seed: int = 0
    confidence: float = 0.95
    rows_per_forward: int = 4
    prompt_style: PromptStyle = DEFAULT_PROMPT_STYLE


@dataclass(frozen=True)
class ProbeResult:
    """What a probe measured: the summary, each attempt's scores, and what was left out."""

    config: ProbeConfig
    summary: Summary
    scored: list[Scored]
    verdicts: dict[str, int]
    unsound: list[str]
    solved_every_time: list[str]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


@dataclass(frozen=True)
class ProbeParts:
    """The model (for sampling and for scoring), the judge, and the tokenizer."""

    sampler: Sampler
    judge: Judge
    host: ModelHost
    tokenizer: ChatTokenizer


def run_probe(
    problems: Sequence[ProbeProblem],
    parts: ProbeParts,
    config: ProbeConfig = ProbeConfig(),
    *,
    on_problem: Callable[[ProbeProblem, list[Failure]], None] | None = None,
) -> ProbeResult:
    """Sample failing attempts on the sound problems, score them and summarize."""
    began = time.perf_counter()
    kept = sound(problems, parts.judge)
    kept_ids = {p.id for p in kept}
    params = SamplingParams(
        max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed
    )
    failures = collect(
        kept,
        parts.sampler,
        parts.judge,
        parts.tokenizer,
        attempts=config.attempts_per_problem,
        params=params,
        on_problem=on_problem,
        style=config.prompt_style,
    )
    sampled = time.perf_counter()
    scored = score(
        failures,
        {p.id: p for p in kept},
        parts.host,
        rows_per_forward=config.rows_per_forward,
        style=config.prompt_style,
    )
    scored_at = time.perf_counter()
    failed_on = {f.problem_id for f in failures}
    verdicts: dict[str, int] = {}
    for failure in failures:
        verdicts[failure.verdict] = verdicts.get(failure.verdict, 0) + 1
    return ProbeResult(
        config=config,
        summary=summarize(scored, confidence=config.confidence, seed=config.seed),
        scored=scored,
        verdicts=verdicts,
        unsound=[p.id for p in problems if p.id not in kept_ids],
        solved_every_time=[p.id for p in kept if p.id not in failed_on],
        seconds={"sampling_and_judging": sampled - began, "scoring": scored_at - sampled},
    )
