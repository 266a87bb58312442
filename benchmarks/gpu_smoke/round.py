"""What the smoke run does with its engine: a real round, or one measured learner step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu_smoke.engine import SmokeEngine
from sandbox.problem import AssertCase, Case, FunctionalCase, Problem, StdioCase
from service.cli.common import load_problem
from service.engine.types import DistillationBatch, DistillationExample
from service.errors import ServiceError
from service.solver.budget import Budget
from service.solver.loop import SolverParts, SolveSpec, solve
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink

JOB_ID = "gpu-smoke"
# Rows of the learner-only batch are at least this long (fewer, longer rows).
MIN_ROW_TOKENS = 256


class NothingLearned(ServiceError):
    """A `--force-learn` run ended without a learner step and a publish."""

    code = "gpu_smoke_nothing_learned"


def unpassable(problem: Problem) -> Problem:
    """`problem` with a public test that contradicts its first one (same arguments, another
    expected value): no program passes round 1, so every attempt fails with feedback and the
    round ends in a learner step and a publish. Public, unlike the hidden contradiction of
    `benchmarks.data.unpassable_example`: only public cases give the feedback that a teacher
    prompt is built from, and it works on any `--problem` file."""
    tests = problem.tests
    forced = tests.model_copy(update={"public": [*tests.public, _contradiction(tests.public[0])]})
    return problem.model_copy(update={"tests": forced})


def _contradiction(first: Case) -> Case:
    if isinstance(first, FunctionalCase):
        return first.model_copy(update={"expected": [first.expected, _OTHER]})
    if isinstance(first, StdioCase):
        return first.model_copy(update={"output": f"{first.output}\n{_OTHER}"})
    return AssertCase(code=f"raise AssertionError({_OTHER!r})")


_OTHER = "cannot also be this"


def check_learned(steps: int, publishes: int) -> None:
    """Raise `NothingLearned` unless at least one step and one publish happened."""
    if steps < 1 or publishes < 1:
        raise NothingLearned(
            f"--force-learn: {steps} learner step(s) and {publishes} publish(es); a failing "
            "round must end in both"
        )


def one_round(
    engine: SmokeEngine,
    problem_path: Path,
    *,
    attempts: int,
    max_new_tokens: int,
    force_learn: bool = False,
) -> dict[str, Any]:
    """Sample `attempts`, judge them, take one SDPO step, publish, sample `attempts` again.
    With `force_learn` the problem cannot be passed, and the step and publish are checked."""
    from sandbox import Sandbox, make_backend

    problem = load_problem(problem_path)
    sandbox = Sandbox(make_backend())
    try:
        parts = SolverParts(engine.sampler, sandbox, engine.host.tokenizer, engine.learner)
        request = SolveRequest(
            problem=unpassable(problem) if force_learn else problem,
            budget=Budget(max_attempts=2 * attempts, attempts_per_round=attempts, max_rounds=2),
            sampling=SamplingRequest(max_new_tokens=max_new_tokens),
        )
        spec = SolveSpec(JOB_ID, request)
        outcome = solve(spec, parts, sink=MemorySink())
    finally:
        sandbox.close()
    checkpoint = engine.learner.checkpoint_seconds
    publish = engine.sampler.publish_seconds
    if force_learn:
        check_learned(len(engine.learner.steps), len(publish))
    return {
        "force_learn": force_learn,
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
    batch = filled_batch(engine.plan.learner.micro_batch_tokens, settings.micro_batch_size)
    engine.learner.create(JOB_ID, seed=0)
    engine.learner.step(JOB_ID, batch)
    return {"mode": "learner_only", "rows": len(batch.examples)}


def filled_batch(tokens: int, max_rows: int) -> DistillationBatch:
    """Rows whose student pass (prompt + response, the pass that keeps activations) holds
    `tokens` in all, up to `rows - 1` left over by the even split; the teacher prompts are as
    long as the student's, so padding adds nothing."""
    rows = max(1, min(max_rows, tokens // MIN_ROW_TOKENS))
    return DistillationBatch(tuple(_example(tokens // rows, seed) for seed in range(rows)))


def _example(row_tokens: int, seed: int) -> DistillationExample:
    """A row of exactly `row_tokens` for student and teacher: prompts of half, the response
    the rest."""
    generator = torch.Generator().manual_seed(seed)
    prompt = row_tokens // 2
    response = row_tokens - prompt
    ids = torch.randint(10, 1000, (2 * prompt + response,), generator=generator).tolist()
    return DistillationExample(
        prompt_ids=tuple(ids[:prompt]),
        teacher_prompt_ids=tuple(ids[prompt : 2 * prompt]),
        response_ids=tuple(ids[2 * prompt :]),
    )
