"""Two real sdpo jobs sharing one engine, as a worker with max_jobs=2 runs them: the default
model on the CPU (one mixed-adapter batch per round), real SDPO steps, Docker verdicts.

The same attempts as each job alone for its seed, and a cancel of one leaves the other running
to its end. Budgets are tiny (2 rounds x 2 attempts of 24 tokens): the wiring, not a result."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from benchmarks.data import unpassable_example
from service.engine.factory import shared_sampler
from service.engine.hf_sampler import HfSampler
from service.engine.learner import PeftLearner
from service.jobs.parts import seated_parts
from service.solver.budget import Budget
from service.solver.loop import OutcomeStatus, SolverParts, SolveSpec, solve
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink
from service.solver.spec import SolverSettings
from service.solver.stop import JobStop, StopReason
from tests.integration.service.engine.hf_support import load_host
from tests.integration.service.solver.test_solve_real import SETTINGS, sandbox

pytestmark = [pytest.mark.model, pytest.mark.docker]
__all__ = ["sandbox"]  # the module-scoped Docker sandbox fixture, shared with test_solve_real
JOIN_S = 600.0


def spec(job: str, seed: int) -> SolveSpec:
    request = SolveRequest(
        problem=unpassable_example(),
        budget=Budget(max_attempts=4, attempts_per_round=2),
        sampling=SamplingRequest(max_new_tokens=24),
        seed=seed,
    )
    return SolveSpec(job, request, SolverSettings(judge_workers=2))


def responses(spec_: SolveSpec, parts: SolverParts) -> tuple[object, list[str]]:
    sink = MemorySink()
    with seated_parts(parts, spec_.job_id) as own:  # as the worker runs each held job
        outcome = solve(spec_, own, sink=sink)
    return outcome, [record.response for record in sink.attempts]


def test_two_jobs_sharing_the_engine_make_the_attempts_they_make_alone(sandbox, tmp_path: Path):
    host = load_host(SETTINGS)
    learner = PeftLearner(host, SETTINGS, tmp_path / "adapters")
    alone = SolverParts(HfSampler(host), sandbox, host.tokenizer, learner)
    expected = [responses(spec(f"alone-{seed}", seed), alone)[1] for seed in (0, 1)]

    shared = SolverParts(shared_sampler(HfSampler(host)), sandbox, host.tokenizer, learner)
    got: dict[int, list[str]] = {}

    def run(seed: int) -> None:
        outcome, texts = responses(spec(f"shared-{seed}", seed), shared)
        assert outcome.status is OutcomeStatus.EXHAUSTED  # type: ignore[attr-defined]
        got[seed] = texts

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_S)
    assert [got.get(0), got.get(1)] == expected
    # 2 jobs x 2 rounds: each batch serves one or both (a seated job that is late by more
    # than a quarter of the last batch is not waited for), so 2 to 4 batches; which it is
    # depends on timing, the samples do not.
    assert 2 <= shared.sampler.stats.batches <= 4  # type: ignore[attr-defined]


def test_cancelling_one_shared_job_leaves_the_other_running(sandbox, tmp_path: Path):
    host = load_host(SETTINGS)
    learner = PeftLearner(host, SETTINGS, tmp_path / "adapters")
    parts = SolverParts(shared_sampler(HfSampler(host)), sandbox, host.tokenizer, learner)
    stop = JobStop()
    outcomes: dict[str, object] = {}

    def first() -> None:
        class CancelAfterOne(MemorySink):
            def commit(self, event, *, attempt=None, **reported):
                super().commit(event, attempt=attempt, **reported)
                if attempt is not None:  # the first attempt committed asks for the cancel
                    stop.request(StopReason.CANCEL)

        with seated_parts(parts, "cancel-a") as own:  # its seat is left when it ends
            outcomes["a"] = solve(spec("cancel-a", 0), own, sink=CancelAfterOne(), stop=stop)

    def second() -> None:
        outcomes["b"] = responses(spec("cancel-b", 1), parts)[0]

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_S)
    a, b = outcomes["a"], outcomes["b"]
    assert a.status is OutcomeStatus.CANCELLED and a.attempts_used < 4  # type: ignore[attr-defined]
    assert b.status is OutcomeStatus.EXHAUSTED and b.attempts_used == 4  # type: ignore[attr-defined]
