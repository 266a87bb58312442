"""The probe through the real model and sandbox: `retrospect probe` on the examples, and the
scores it rests on checked against the learner's own forward."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from service.cli import app
from service.config import EngineSettings, get_settings
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner
from service.engine.scoring import token_logprobs
from service.probe.problems import load_probe_problems
from service.probe.scoring import reference_ids
from service.solver.prompts import student_prompt_ids, teacher_prompt_ids
from tests.integration.sandbox.conftest import docker_ready

pytestmark = [pytest.mark.model]
EXAMPLES = Path(__file__).parents[4] / "examples"


@pytest.fixture
def cpu_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RETROSPECT_ENGINE__DEVICE", "cpu")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def host() -> ModelHost:
    settings = get_settings()
    engine = EngineSettings.model_validate({**settings.engine.model_dump(), "device": "cpu"})
    return ModelHost.load(engine, settings.model_cache_dir)


@pytest.mark.docker
@pytest.mark.usefixtures("cpu_settings")
def test_probe_prints_a_verdict_and_writes_its_json(tmp_path: Path) -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "probe.json"
    args = ["probe", str(EXAMPLES), "--limit", "3", "--attempts", "2"]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "32", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Recommended strategy:" in result.output
    assert "reference teacher minus student" in result.output
    written = json.loads(out.read_text())
    assert written["summary"]["recommended"] in ("sdpo", "best_of_k")
    assert written["config"]["attempts_per_problem"] == 2


def test_scores_do_not_depend_on_the_batch_they_are_computed_in(host: ModelHost) -> None:
    """Left- and right-padding must not move a row's log-probs."""
    problems = load_probe_problems([EXAMPLES], limit=3)
    prompts = [student_prompt_ids(host.tokenizer, p.problem) for p in problems]
    prompts.append(teacher_prompt_ids(host.tokenizer, problems[0].problem, "Wrong Answer"))
    references = [reference_ids(host.tokenizer, p.reference) for p in problems]
    references.append(references[0][:5])
    together = token_logprobs(host, prompts, references, rows_per_forward=4)
    alone = token_logprobs(host, prompts, references, rows_per_forward=1)
    for a, b, ref in zip(together, alone, references, strict=True):
        assert len(a) == len(ref)
        assert a == pytest.approx(b, abs=2e-2)


def test_scores_match_the_learners_response_logits(host: ModelHost, tmp_path: Path) -> None:
    """The brute-force reference: the learner's full logits, log-softmax, pick each token."""
    problem = load_probe_problems([EXAMPLES], limit=1)[0]
    prompt = student_prompt_ids(host.tokenizer, problem.problem)
    reference = reference_ids(host.tokenizer, problem.reference)
    learner = PeftLearner(host, get_settings().engine, tmp_path)
    logits = learner.response_logits(None, prompt, reference)
    expected = torch.log_softmax(logits, dim=-1)[torch.arange(len(reference)), reference]
    (scored,) = token_logprobs(host, [prompt], [reference])
    assert scored == pytest.approx(expected.tolist(), abs=1e-3)
