"""A short, real sdpo job: the default model on the CPU (HfSampler + PeftLearner) and Docker.

It checks that the loop runs end to end with real verdicts, a real SDPO step and a published
adapter; not that the 135M model solves the problem. 2 rounds x 4 attempts of 160 tokens.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sandbox import Sandbox, Verdict
from sandbox.backends.docker import DockerBackend
from sandbox.problem import Problem
from service.config import EngineSettings
from service.engine import adapters
from service.engine.hf_sampler import HfSampler
from service.engine.learner import PeftLearner
from service.solver.budget import Budget
from service.solver.events import LearnerStep
from service.solver.loop import OutcomeStatus, SolverParts, SolveSpec, solve
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.sink import MemorySink
from service.solver.spec import SolverSettings
from tests.conftest import TEST_MODEL
from tests.integration.sandbox.conftest import docker_ready
from tests.integration.service.engine.hf_support import ROOT, load_host

pytestmark = [pytest.mark.model, pytest.mark.docker]

SETTINGS = EngineSettings(model=TEST_MODEL, device="cpu", learning_rate=1e-4, micro_batch_size=2)
JUDGE_SLOTS = 2


@pytest.fixture(scope="module")
def sandbox():
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    sandbox = Sandbox(DockerBackend(concurrency=JUDGE_SLOTS))
    yield sandbox
    sandbox.close()


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a shared 2-core host, two threads that contend with another
    process stall each other at every barrier (measured here: over 10x slower sampling)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_short_sdpo_job_runs_end_to_end(sandbox, one_torch_thread, tmp_path: Path) -> None:
    host = load_host(SETTINGS)
    learner = PeftLearner(host, SETTINGS, tmp_path / "adapters")
    problem = Problem.model_validate_json((ROOT / "examples" / "sum_evens.json").read_text())
    request = SolveRequest(
        problem=problem,
        budget=Budget(max_attempts=8, attempts_per_round=4),
        sampling=SamplingRequest(max_new_tokens=96),
        seed=1,
    )
    spec = SolveSpec("real-sdpo", request, SolverSettings(judge_workers=JUDGE_SLOTS))
    parts = SolverParts(HfSampler(host), sandbox, host.tokenizer, learner)
    events = MemorySink()

    outcome = solve(spec, parts, sink=events)

    used = outcome.attempts_used
    print(f"\nreal sdpo job: {outcome.status} after {used} attempts, {outcome.seconds}")
    assert outcome.status in {OutcomeStatus.SUCCEEDED, OutcomeStatus.EXHAUSTED}, outcome.reason
    assert [record.index for record in events.attempts] == list(range(outcome.attempts_used))
    # Real verdicts from Docker: never the sandbox's fault, every public case counted.
    assert all(record.verdict is not Verdict.SANDBOX_ERROR for record in events.attempts)
    assert all(record.total == 3 and record.tokens > 0 for record in events.attempts)
    types = events.types()
    assert types[:2] == ["job.started", "round.started"]
    assert types[-1] == f"job.{outcome.status}"
    if outcome.discovery_index is None or outcome.discovery_index >= 4:
        step = events.of(LearnerStep)[0]
        assert math.isfinite(step.loss) and math.isfinite(step.grad_norm)
        assert types.index("learner.step") + 1 == types.index("adapter.published")
        assert (
            outcome.adapter is not None and (outcome.adapter.path / adapters.ADAPTER_FILE).exists()
        )
    assert not learner.has_job("real-sdpo")  # released at the end
