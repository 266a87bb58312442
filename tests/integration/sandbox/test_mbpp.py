"""Every MBPP reference solution passes through each backend; a mutant of each fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from benchmarks.data import MBPP_SANITIZED
from sandbox import Sandbox, Verdict
from sandbox.backends.docker import DockerBackend
from sandbox.backends.process import ProcessBackend, bwrap_available
from sandbox.importers import ImportedProblem, load_with_references
from tests.integration.sandbox.conftest import docker_ready

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

MBPP_PATH = MBPP_SANITIZED
EXCEPTIONS_PATH = Path(__file__).with_name("mbpp_exceptions.json")
CONCURRENCY = 4

# Appended to a reference: the entry point's results come back changed (far beyond any float
# tolerance), so every test that looks at them must fail.
MUTATION = """

def __retrospect_mutate(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 2 + 1
    if isinstance(value, float):
        return value * 1.5 + 1.0
    if isinstance(value, str):
        return value + "#"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, -12345])
    if isinstance(value, (set, frozenset)):
        return type(value)({*value, -12345})
    if isinstance(value, dict):
        return {**value, -12345: -12345}
    return -12345

__retrospect_original = ENTRY

def ENTRY(*args, **kwargs):
    return __retrospect_mutate(__retrospect_original(*args, **kwargs))
"""


@pytest.fixture(scope="module")
def mbpp() -> list[ImportedProblem]:
    if not MBPP_PATH.is_file():
        pytest.skip(f"{MBPP_PATH} is missing")
    return load_with_references(MBPP_PATH)


@pytest.fixture(params=["docker", "process"])
def pool_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param == "docker":
        reason = docker_ready()
        if reason:
            pytest.skip(reason)
        sandbox = Sandbox(DockerBackend(concurrency=CONCURRENCY))
    else:
        if not bwrap_available():
            pytest.skip("bubblewrap or /usr/bin/python3 missing")
        sandbox = Sandbox(ProcessBackend(concurrency=CONCURRENCY))
    yield sandbox
    sandbox.close()


def _exceptions() -> dict[str, str]:
    return json.loads(EXCEPTIONS_PATH.read_text()) if EXCEPTIONS_PATH.is_file() else {}


def _judge_all(sandbox: Sandbox, programs: list[tuple[ImportedProblem, str]]) -> dict[str, Verdict]:
    def judge(item: tuple[ImportedProblem, str]) -> tuple[str, Verdict]:
        imported, program = item
        return imported.source_id, sandbox.run_suite(program, imported.problem, "all").verdict

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return dict(pool.map(judge, programs))


def test_every_reference_is_accepted_and_every_mutant_rejected(
    pool_sandbox: Sandbox, mbpp: list[ImportedProblem]
) -> None:
    exceptions = _exceptions()
    with_reference = [p for p in mbpp if p.reference and p.source_id not in exceptions]
    assert len(with_reference) >= 400
    references = _judge_all(pool_sandbox, [(p, p.reference or "") for p in with_reference])
    rejected = {k: v for k, v in references.items() if v is not Verdict.ACCEPTED}
    assert not rejected, f"references rejected: {rejected}"

    mutants = [
        (p, (p.reference or "") + MUTATION.replace("ENTRY", p.problem.tests.entry_point or ""))
        for p in with_reference
    ]
    verdicts = _judge_all(pool_sandbox, mutants)
    fooled = sorted(k for k, v in verdicts.items() if v is Verdict.ACCEPTED)
    assert not fooled, f"mutants accepted: {fooled}"
    assert Verdict.SANDBOX_ERROR not in verdicts.values()


def test_exceptions_have_reasons() -> None:
    for task, reason in _exceptions().items():
        assert len(reason) > 20, f"exception {task} needs a real reason"
