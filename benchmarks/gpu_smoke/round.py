"""What the smoke run does with its engine: a real round, or one measured learner step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu_smoke.engine import SmokeEngine
from service.cli.common import load_problem
from service.engine.types import DistillationBatch, DistillationExample
from service.solver.budget import Budget
from service.solver.loop import SolverParts, SolveSpec, solve
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink

JOB_ID = "gpu-smoke"


def one_round(
    engine: SmokeEngine, problem_path: Path, *, attempts: int, max_new_tokens: int
) -> dict[str, Any]:
    """Sample `attempts`, judge them, take one SDPO step, publish, sample `attempts` again."""
    from sandbox import Sandbox, make_backend

    sandbox = Sandbox(make_backend())
    try:
        parts = SolverParts(engine.sampler, sandbox, engine.host.tokenizer, engine.learner)
        request = SolveRequest(
            problem=load_problem(problem_path),
            budget=Budget(max_attempts=2 * attempts, attempts_per_round=attempts, max_rounds=2),
            sampling=SamplingRequest(max_new_tokens=max_new_tokens),
        )
        spec = SolveSpec(JOB_ID, request)
        outcome = solve(spec, parts, sink=MemorySink())
    finally:
        sandbox.close()
    checkpoint = engine.learner.checkpoint_seconds
    publish = engine.sampler.publish_seconds
    return {
        "status": outcome.status.value,
        "reason": outcome.reason,
        "attempts": outcome.attempts_used,
        "rounds": outcome.rounds,
        "seconds": {
            "sampling": round(outcome.seconds.sampling, 3),
            "sandbox": round(outcome.seconds.sandbox, 3),
            "learning": round(outcome.seconds.learning, 3),
            "bookkeeping": round(outcome.seconds.bookkeeping, 3),
            "total": round(outcome.seconds.total, 3),
        },
        # From the end of the step to the adapter being live in the sampler.
        "publish_latency_seconds": [
            round(c + p, 4) for c, p in zip(checkpoint, publish, strict=False)
        ],
        "checkpoint_seconds": [round(c, 4) for c in checkpoint],
        "sampler_publish_seconds": [round(p, 4) for p in publish],
    }


def learner_only_step(engine: SmokeEngine) -> dict[str, Any]:
    """One step on rows that fill the plan's micro-batch: its peak against the prediction."""
    settings = engine.learner.inner.settings
    tokens = engine.plan.learner.micro_batch_tokens
    rows = max(1, min(settings.micro_batch_size, tokens // 256))
    batch = DistillationBatch(tuple(_example(tokens // rows, seed) for seed in range(rows)))
    engine.learner.create(JOB_ID, seed=0)
    engine.learner.step(JOB_ID, batch)
    return {"mode": "learner_only", "rows": rows}


def _example(row_tokens: int, seed: int) -> DistillationExample:
    """A row of exactly `row_tokens`: a teacher prompt of half of it, a response of the rest."""
    generator = torch.Generator().manual_seed(seed)
    teacher = row_tokens // 2
    ids = torch.randint(10, 1000, (row_tokens + teacher // 2,), generator=generator).tolist()
    return DistillationExample(
        prompt_ids=tuple(ids[: teacher // 2]),
        teacher_prompt_ids=tuple(ids[:teacher]),
        response_ids=tuple(ids[teacher : teacher + row_tokens - teacher]),
    )
