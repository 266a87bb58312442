"""One run = one strategy on one problem with one seed, through `solve()` in-process; and the
screening that picks hard problems (i.i.d. samples from the base model, judged on all tests)."""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.discovery.config import Config
from sandbox.importers import ImportedProblem
from service.config import SdpoParams
from service.engine.types import SamplingParams
from service.solver.budget import Budget
from service.solver.loop import SolverParts, SolveSpec, solve
from service.solver.prompts import student_prompt_ids
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink
from service.solver.strategies import StrategyName


@dataclass(frozen=True)
class Run:
    """What one run found, and what it cost."""

    problem: str
    strategy: StrategyName
    seed: int
    discovery_index: int | None
    attempts_used: int
    rounds: int
    wall_s: float
    phases_s: dict[str, float]
    status: str


@dataclass(frozen=True)
class Screening:
    """A problem's i.i.d. base-model samples: n drawn, c passed all tests; and whether its
    reference passes (sound tests)."""

    problem: str
    n: int
    c: int
    reference_ok: bool

    @property
    def pass_rate(self) -> float:
        return self.c / self.n if self.n else 0.0


def run_one(
    item: ImportedProblem, strategy: StrategyName, seed: int, config: Config, parts: SolverParts
) -> Run:
    """Solve one problem with one strategy; the discovery index is the first confirmed pass."""
    request = SolveRequest(
        problem=item.problem,
        strategy=strategy,
        budget=Budget(
            max_attempts=config.max_attempts,
            attempts_per_round=config.attempts_per_round,
            max_seconds=24 * 3600.0,
        ),
        sampling=SamplingRequest(max_new_tokens=config.max_new_tokens, prompt=config.prompt),
        seed=seed,
        sdpo=SdpoParams.model_validate(config.sdpo),
    )
    spec = SolveSpec(f"bench-{strategy}-{seed}-{zlib.crc32(item.source_id.encode()):08x}", request)
    began = time.perf_counter()
    outcome = solve(spec, parts, sink=MemorySink())
    return Run(
        problem=item.source_id,
        strategy=strategy,
        seed=seed,
        discovery_index=outcome.discovery_index,
        attempts_used=outcome.attempts_used,
        rounds=outcome.rounds,
        wall_s=time.perf_counter() - began,
        phases_s=asdict(outcome.seconds),
        status=outcome.status.value,
    )


def screen(item: ImportedProblem, parts: SolverParts, config: Config) -> Screening:
    """Draw `screen_samples` i.i.d. attempts from the base model and judge each on all tests."""
    reference_ok = (
        item.reference is not None
        and parts.judge.run_suite(item.reference, item.problem, "all").accepted
    )
    prompt = student_prompt_ids(parts.tokenizer, item.problem, style=config.prompt)
    params = SamplingParams(max_new_tokens=config.max_new_tokens, seed=config.screen_seed)
    samples = parts.sampler.sample(prompt, config.screen_samples, params, None)
    passed = sum(parts.judge.run_suite(s.text, item.problem, "all").accepted for s in samples)
    return Screening(item.source_id, len(samples), passed, reference_ok)


def append_journal(journal: Path | None, record: dict[str, Any]) -> None:
    """Append one JSON line to a benchmark's journal (none: do nothing)."""
    if journal is not None:
        with journal.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def is_hard(screening: Screening, threshold: float, min_passes: int = 0) -> bool:
    """Hard and sound: the base model rarely passes (but at least `min_passes` times), and the
    reference does."""
    return screening.reference_ok and screening.pass_rate < threshold and screening.c >= min_passes
