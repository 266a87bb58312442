"""The job request and the solver's spec: one shape, with every fact derived from one place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandbox.problem import Problem
from service.config import (
    SDPO_OVERRIDE_KEYS,
    EngineSettings,
    SandboxSettings,
    SdpoParams,
    Settings,
    WorkerSettings,
)
from service.engine.types import SamplingParams
from service.solver.request import SamplingRequest, SolveRequest
from service.solver.spec import SolverSettings, SolveSpec
from tests.unit.service.solver.test_strategies import PROBLEM


def test_the_override_keys_are_the_fields_of_sdpo_params_and_of_the_engine() -> None:
    assert set(SdpoParams.model_fields) == SDPO_OVERRIDE_KEYS
    assert set(SdpoParams.model_fields) <= set(EngineSettings.model_fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [("learning_rate", 2.0), ("teacher_ema_rate", 0.0), ("top_k", 1001), ("alpha", 1.5)],
)
def test_a_job_and_a_worker_share_each_bound(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        SdpoParams.model_validate({field: value})
    with pytest.raises(ValidationError):
        EngineSettings.model_validate({field: value})


def test_the_spec_is_the_request_plus_the_workers_settings() -> None:
    problem: Problem = PROBLEM
    request = SolveRequest(problem=problem, sdpo=SdpoParams(top_k=5), seed=9)
    assert request.sampling.temperature == SamplingParams.temperature  # the one default
    default = SolveSpec("j", request)
    assert default.sampling == SamplingParams(max_new_tokens=WorkerSettings().max_new_tokens)
    assert default.worker.judge_workers == SandboxSettings().concurrency
    assert default.sdpo == SdpoParams(top_k=5) and default.seed == 9 and default.strategy == "sdpo"

    settings = Settings(worker=WorkerSettings(max_new_tokens=99))
    worker = SolverSettings.from_settings(settings)
    assert SolveSpec("j", request, worker).sampling.max_new_tokens == 99
    asked = request.model_copy(update={"sampling": SamplingRequest(max_new_tokens=7)})
    assert SolveSpec("j", asked, worker).sampling.max_new_tokens == 7
