"""The smoke run's pure parts: the unpassable problem, the learner-only batch, the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.gpu_smoke.memory import device_free_bytes, free_at_peak
from benchmarks.gpu_smoke.round import NothingLearned, check_learned, filled_batch, unpassable
from sandbox.problem import AssertCase, FunctionalCase, Problem, StdioCase
from service.config import EngineSettings
from service.engine.learner import micro_batches, row_tokens

REPO = Path(__file__).parents[3]


def test_the_forced_problem_contradicts_its_first_public_test() -> None:
    problem = Problem.model_validate_json((REPO / "examples/sum_evens.json").read_text())
    forced = unpassable(problem)
    first, *_, twin = forced.tests.public
    assert isinstance(first, FunctionalCase) and isinstance(twin, FunctionalCase)
    assert twin.args == first.args and twin.expected != first.expected
    assert len(forced.tests.public) == len(problem.tests.public) + 1
    assert forced.tests.hidden == problem.tests.hidden


def test_stdio_and_assert_problems_are_made_unpassable_too() -> None:
    stdio = Problem.model_validate(
        {"title": "t", "statement": "s", "tests": {"kind": "stdio", "public": [{"output": "1"}]}}
    )
    twin = unpassable(stdio).tests.public[-1]
    assert isinstance(twin, StdioCase) and twin.input == "" and twin.output != "1"
    asserts = Problem.model_validate(
        {"title": "t", "statement": "s", "tests": {"kind": "assert", "public": [{"code": "1"}]}}
    )
    assert isinstance(unpassable(asserts).tests.public[-1], AssertCase)
    json.loads(unpassable(asserts).model_dump_json())  # still a valid document


def test_a_forced_run_without_a_step_or_publish_fails() -> None:
    check_learned(1, 1)
    with pytest.raises(NothingLearned, match="0 learner step"):
        check_learned(0, 0)
    with pytest.raises(NothingLearned):
        check_learned(1, 0)


@pytest.mark.parametrize(("tokens", "rows"), [(16384, 4), (4096, 4), (6484, 4), (300, 1)])
def test_the_learner_only_batch_fills_the_planned_tokens(tokens: int, rows: int) -> None:
    batch = filled_batch(tokens, max_rows=4)
    assert len(batch.examples) == rows
    student = sum(len(e.prompt_ids) + len(e.response_ids) for e in batch.examples)
    assert tokens - rows < student <= tokens
    settings = EngineSettings(micro_batch_size=4, micro_batch_tokens=tokens)
    (group,) = micro_batches(list(batch.examples), settings)  # one micro-batch, no padding
    assert len(group) * max(row_tokens(e) for e in group) == student


def test_free_memory_at_the_peak_subtracts_what_the_allocator_grew() -> None:
    assert free_at_peak(10_000, 2_000, 5_000) == 7_000
    assert free_at_peak(10_000, 2_000, 2_000) == 10_000


def test_free_memory_is_not_reported_off_cuda() -> None:
    import torch

    assert device_free_bytes(torch.device("cpu")) is None
