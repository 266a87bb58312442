"""Schemathesis against the app's own OpenAPI schema, over loopback HTTP to a real uvicorn, on
SQLite and Postgres: generated valid and invalid requests for every operation, then stateful
sequences that follow the schema's links (submit, then read, list, cancel what was made).
Every answer must be no 5xx, a documented status, the documented content type, and a body
that validates against the documented schema.

Bounded for CI: `EXAMPLES` per operation and mode, `STEPS` stateful sequences.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.config import LimitSettings, Settings
from tests.integration.service.api_hostile.conftest import app_for
from tests.integration.service.api_hostile.test_live_server import served

EXAMPLES = 25
STEPS = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A live event stream only ends with its job, so generated sequences (which reach real jobs)
# leave it out; generated single requests only ever name jobs that do not exist.
STREAMING = "/jobs/{job_id}/events"
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def base_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A generous per-key limit: generated submits must not all end at 429.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        database_url=database_url,
        limits=LimitSettings(max_active_jobs_per_key=10_000),
    )
    with served(app_for(settings)) as port:
        yield f"http://127.0.0.1:{port}"


def load(base_url: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schema.config.update(base_url=base_url)
    return schema


def operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10, [op.label for op in found]
    return found


# Operations without any input: there is no invalid request to make of them.
NO_INPUT = {"GET /healthz", "GET /readyz"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_documented_answers(base_url: str, mode: GenerationMode) -> None:
    schema = load(base_url)
    without_negatives = set()
    for operation in operations(schema):

        @SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
            assert response.status_code < 500

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label
            without_negatives.add(operation.label)
    assert without_negatives <= NO_INPUT


def test_stateful_sequences_get_documented_answers(base_url: str) -> None:
    schema = load(base_url).exclude(path=STREAMING)
    machine = schema.as_state_machine()
    calls: list[int] = []

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            calls.append(response.status_code)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Sequences.run(
        settings=hypothesis.settings(
            SETTINGS, max_examples=STEPS, stateful_step_count=6, derandomize=True
        )
    )
    assert calls and max(calls) < 500
    assert 202 in calls  # sequences did submit jobs, and went on from them
