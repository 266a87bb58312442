"""The peft learner on the real default model (CPU): it learns, restores exactly, isolates jobs.

Short sequences and tiny batches keep the module near a minute on 2 cores.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sandbox.problem import Problem
from service.config import EngineSettings, SdpoParams, TeacherKind
from service.engine import adapters
from service.engine.hf_sampler import HfSampler
from service.engine.host import ModelHost
from service.engine.learner import PeftLearner, UnknownJobError
from service.engine.types import DistillationBatch, DistillationExample, SamplingParams
from service.solver.prompts import student_prompt_ids, teacher_prompt_ids
from tests.conftest import TEST_MODEL
from tests.integration.service.engine.hf_support import load_host

pytestmark = pytest.mark.model

SETTINGS = EngineSettings(model=TEST_MODEL, device="cpu", learning_rate=1e-3, micro_batch_size=2)
CASE = {"args": [1, 2], "expected": 3}
PROBLEM = Problem.model_validate(
    {
        "title": "add",
        "statement": "Write a function add(a, b) that returns the sum of the integers a and b.",
        "tests": {"kind": "functional", "entry_point": "add", "public": [CASE]},
    }
)  # fmt: skip
FEEDBACK = (
    "Test Case 1: Wrong Answer\nInput\nadd(1, 2)\nOutput\n-1\nExpected\n3\n"
    "The function must return a + b, not a - b."
)


@pytest.fixture(scope="module")
def host() -> ModelHost:
    return load_host(SETTINGS)


@pytest.fixture
def learner(host, tmp_path):
    learner = PeftLearner(host, SETTINGS, tmp_path / "adapters")
    yield learner
    for job_id in list(learner._jobs):
        learner.delete(job_id)


def synthetic_batch(seed: int, n: int = 3) -> DistillationBatch:
    """Random token ids of a few lengths: enough to exercise padding and micro-batches."""
    gen = torch.Generator().manual_seed(seed)

    def ids(length: int) -> tuple[int, ...]:
        return tuple(torch.randint(3, 49_000, (length,), generator=gen).tolist())

    examples = tuple(
        DistillationExample(
            prompt_ids=ids(6 + i),
            teacher_prompt_ids=ids(12 + 3 * i),
            response_ids=(response := ids(5 + 2 * i)),
            sampler_logprobs=tuple(-2.0 for _ in response),
        )
        for i in range(n)
    )
    return DistillationBatch(examples)


def probe_logits(learner, job_id: str | None) -> torch.Tensor:
    """One fixed 4-token prompt and response on the one torch thread: two calls run the same
    shapes on the same thread count, so the bit-equal comparisons below are deterministic."""
    return learner.response_logits(job_id, [1, 4093, 198, 6004], [2683, 359, 253, 5356])


def test_sdpo_steps_move_the_student_toward_the_teacher(host, learner):
    learner.create("learn", seed=0)
    tokenizer = host.tokenizer
    prompt = student_prompt_ids(tokenizer, PROBLEM)
    teacher_prompt = teacher_prompt_ids(tokenizer, PROBLEM, FEEDBACK)
    params = SamplingParams(max_new_tokens=48, seed=7)
    ref = learner.checkpoint("learn")
    samples = HfSampler(host).sample(prompt, 4, params, ref)
    batch = DistillationBatch(
        tuple(DistillationExample.from_sample(prompt, teacher_prompt, s) for s in samples)
    )

    def preferred_logprob() -> float:
        """Mean student log-prob of the initial teacher's argmax tokens along each attempt."""
        total = 0.0
        for sample in samples:
            response = list(sample.token_ids)
            preferred = learner.response_logits(None, teacher_prompt, response).argmax(-1)
            student = learner.response_logits("learn", prompt, response).log_softmax(-1)
            total += student.gather(-1, preferred.unsqueeze(-1)).mean().item()
        return total / len(samples)

    before = preferred_logprob()
    metrics = [learner.step("learn", batch) for _ in range(3)]
    after = preferred_logprob()

    assert after > before + 0.02, (before, after)
    assert metrics[-1].kl < metrics[0].kl
    first = metrics[0]
    assert first.tokens == sum(len(s.token_ids) for s in samples)
    assert first.grad_norm > 0
    assert 0.0 < first.extras["is_weight_mean"] <= SETTINGS.is_clip
    assert 0.0 <= first.extras["is_clip_fraction"] <= 1.0
    assert first.extras["entropy"] > 0
    assert 0.0 < first.extras["top_k_mass"] <= 1.0
    # On-policy, with the sampler and learner on the same weights, the IS weight is ~1.
    assert first.extras["is_weight_mean"] == pytest.approx(1.0, abs=1e-3)


def test_checkpoint_restores_exactly_into_a_fresh_learner(learner, tmp_path):
    batch = synthetic_batch(1)
    learner.create("ckpt", seed=3)
    learner.step("ckpt", batch)
    ref = learner.checkpoint("ckpt")
    assert ref.sha256 == adapters.sha256_file(ref.path / adapters.ADAPTER_FILE)
    assert (ref.path / "adapter_config.json").is_file()

    fresh = PeftLearner(load_host(SETTINGS), SETTINGS, tmp_path / "adapters")
    fresh.restore(ref)
    assert torch.equal(probe_logits(fresh, "ckpt"), probe_logits(learner, "ckpt"))

    next_batch = synthetic_batch(2)
    original, restored = learner.step("ckpt", next_batch), fresh.step("ckpt", next_batch)
    assert (restored.loss, restored.kl, restored.grad_norm) == (
        original.loss, original.kl, original.grad_norm,
    )  # fmt: skip
    assert torch.equal(probe_logits(fresh, "ckpt"), probe_logits(learner, "ckpt"))
    fresh_teacher = fresh.adapter_state("ckpt", teacher=True)
    teacher = learner.adapter_state("ckpt", teacher=True)
    assert all(torch.equal(fresh_teacher[key], value) for key, value in teacher.items())


def test_checkpoint_names_are_fresh_and_tampering_is_caught(learner):
    learner.create("names", seed=0)
    first, second = learner.checkpoint("names"), learner.checkpoint("names")
    assert (first.version, second.version) == (1, 2)
    assert first.name != second.name and first.int_id != second.int_id
    data = (second.path / adapters.ADAPTER_FILE).read_bytes()
    (second.path / adapters.ADAPTER_FILE).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(adapters.AdapterChecksumError):
        learner.restore(second)


def test_two_jobs_do_not_interfere(learner):
    learner.create("job-a", seed=1)
    learner.create("job-b", seed=2)
    b_before = probe_logits(learner, "job-b")
    a_before = probe_logits(learner, "job-a")
    learner.step("job-a", synthetic_batch(3))
    assert torch.equal(probe_logits(learner, "job-b"), b_before)
    assert not torch.allclose(probe_logits(learner, "job-a"), a_before)
    assert torch.equal(probe_logits(learner, None), probe_logits(learner, "job-b")), (
        "an unstepped adapter (B = 0) is the base model"
    )
    learner.delete("job-a")
    with pytest.raises(UnknownJobError):
        learner.step("job-a", synthetic_batch(3))


def test_jobs_on_their_own_threads_add_and_read_adapters_at_once(learner):
    # A worker runs each job on a thread of its own: one job's adapter coming and going
    # changes the module tree that another job's checkpoint walks.
    learner.create("steady", seed=0)
    stop = threading.Event()
    churned: list[int] = []

    def churn() -> None:
        while not stop.is_set():
            learner.create("churn", seed=len(churned))
            learner.delete("churn")
            churned.append(1)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        while len(churned) < 20:
            learner.checkpoint("steady")
            assert learner.adapter_state("steady", teacher=True)
            assert learner.host.parameters_of(adapters.live_adapter_name("steady"))
    finally:
        stop.set()
        thread.join()
    assert not learner.has_job("churn")


def test_ema_teacher_moves_by_rate_times_delta(learner):
    learner.create("ema", seed=4)
    teacher_before = learner.adapter_state("ema", teacher=True)
    assert all(
        torch.equal(teacher_before[k], v) for k, v in learner.adapter_state("ema").items()
    ), "the teacher starts as a copy of the student"
    learner.step("ema", synthetic_batch(4))
    student_after = learner.adapter_state("ema")
    teacher_after = learner.adapter_state("ema", teacher=True)
    rate = SETTINGS.teacher_ema_rate
    moved = 0
    for key, before in teacher_before.items():
        expected = before + rate * (student_after[key] - before)
        assert torch.allclose(teacher_after[key], expected, atol=1e-8, rtol=0), key
        moved += int(not torch.equal(teacher_after[key], before))
    assert moved > 0
    assert teacher_after[key].dtype == torch.float32


def test_frozen_teacher_and_masked_sequences(host, tmp_path):
    settings = SETTINGS.model_copy(update={"teacher": TeacherKind.FROZEN, "micro_batch_size": 1})
    learner = PeftLearner(host, settings, tmp_path / "frozen")
    batch = synthetic_batch(5, n=1)
    masked = DistillationExample(batch.examples[0].prompt_ids, None, batch.examples[0].response_ids)
    try:
        learner.create("one", seed=5)
        learner.create("two", seed=5)
        alone = learner.step("one", batch)
        with_masked = learner.step("two", DistillationBatch((*batch.examples, masked)))
        assert with_masked.extras["masked_sequences"] == 1.0
        assert with_masked.loss == pytest.approx(alone.loss / 2, rel=1e-5)
        assert with_masked.grad_norm == pytest.approx(alone.grad_norm / 2, rel=1e-4)
        with pytest.raises(ValueError, match="frozen-base teacher"):
            learner.adapter_state("one", teacher=True)
    finally:
        learner.delete("one")
        learner.delete("two")


def lrs(learner, job_id: str) -> list[float]:
    return [group["lr"] for group in learner._jobs[job_id].optimizer.param_groups]


def has_teacher(learner, job_id: str) -> bool:
    """Whether the job has a teacher adapter of its own (EMA), checked in the model too."""
    job = learner._jobs[job_id]
    in_model = learner.host.has_adapter(adapters.teacher_adapter_name(job_id))
    assert in_model == (job.teacher is not None) == bool(job.ema_pairs)
    return in_model


def test_job_overrides_apply_to_that_job_alone(learner):
    sdpo = SdpoParams(learning_rate=5e-5, teacher=TeacherKind.FROZEN)
    learner.create("tuned", seed=8, sdpo=sdpo)
    learner.create("plain", seed=8)
    assert lrs(learner, "tuned") == [5e-5] and not has_teacher(learner, "tuned")
    assert lrs(learner, "plain") == [SETTINGS.learning_rate] and has_teacher(learner, "plain")
    learner.step("tuned", synthetic_batch(8, n=1))  # a frozen teacher under an EMA worker

    # A resumed job gets its overrides again, and the checkpoint's lr does not win over them.
    ref = learner.checkpoint("tuned")
    learner.restore(ref, sdpo=sdpo)
    assert lrs(learner, "tuned") == [5e-5] and not has_teacher(learner, "tuned")


def test_ema_override_under_a_frozen_worker(host, tmp_path):
    settings = SETTINGS.model_copy(update={"teacher": TeacherKind.FROZEN})
    learner = PeftLearner(host, settings, tmp_path / "frozen-worker")
    try:
        learner.create(
            "ema-job", seed=9, sdpo=SdpoParams(teacher=TeacherKind.EMA, teacher_ema_rate=0.5)
        )
        learner.create("frozen-job", seed=9)
        assert has_teacher(learner, "ema-job") and not has_teacher(learner, "frozen-job")
        assert learner._jobs["ema-job"].settings.teacher_ema_rate == 0.5
    finally:
        learner.delete("ema-job")
        learner.delete("frozen-job")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"lora_rank": 4}, "lora_rank"),  # a worker setting, not a job's
        ({"learning_rate": 0.0}, "learning_rate"),  # EngineSettings' own constraint
        ({"teacher": "teleport"}, "teacher"),
    ],
)
def test_bad_overrides_are_refused_before_a_job_exists(learner, overrides, match):
    with pytest.raises(ValueError, match=match):
        learner.create("bad", seed=0, sdpo=SdpoParams.model_validate(overrides))
    assert not learner.has_job("bad")


def test_chunked_and_full_logit_paths_agree_across_micro_batches(host, tmp_path):
    batch = synthetic_batch(6)
    results = []
    for chunk_tokens, micro in ((4, 2), (None, 1)):
        settings = SETTINGS.model_copy(
            update={"loss_chunk_tokens": chunk_tokens, "micro_batch_size": micro}
        )
        learner = PeftLearner(host, settings, tmp_path / str(chunk_tokens))
        learner.create("paths", seed=6)
        try:
            learner.step("paths", batch)  # the second step has a non-zero adapter
            results.append(learner.step("paths", batch))
        finally:
            learner.delete("paths")
    chunked, full = results
    assert chunked.loss == pytest.approx(full.loss, rel=1e-4)
    assert chunked.kl == pytest.approx(full.kl, rel=1e-4)
    assert chunked.grad_norm == pytest.approx(full.grad_norm, rel=1e-3)
    assert chunked.extras["entropy"] == pytest.approx(full.extras["entropy"], rel=1e-4)


def test_gradient_checkpointing_changes_nothing_but_memory(host, tmp_path):
    batch = synthetic_batch(7, n=2)
    results = []
    for checkpointing in (False, True):
        settings = SETTINGS.model_copy(update={"gradient_checkpointing": checkpointing})
        learner = PeftLearner(host, settings, tmp_path / str(checkpointing))
        learner.create("gc", seed=7)
        if checkpointing:
            host.causal_lm.gradient_checkpointing_enable({"use_reentrant": False})
        try:
            results.append(learner.step("gc", batch))
        finally:
            host.causal_lm.gradient_checkpointing_disable()
            learner.delete("gc")
    plain, checkpointed = results
    assert checkpointed.loss == pytest.approx(plain.loss, rel=1e-6)
    assert checkpointed.grad_norm == pytest.approx(plain.grad_norm, rel=1e-5)
    assert not host.causal_lm.training


def stepped_versions(learner, job_id: str, *, steps: int, first_seed: int) -> list:
    """`steps` steps on seeded synthetic batches, each followed by a checkpoint; their refs."""
    refs = []
    for step in range(steps):
        learner.step(job_id, synthetic_batch(first_seed + step))
        refs.append(learner.checkpoint(job_id))
    return refs


def test_learner_state_every_n_steps_and_pruning_keep_resume_exact(host, tmp_path):
    settings = SETTINGS.model_copy(update={"state_every_steps": 2, "keep_adapter_versions": 2})
    learner = PeftLearner(host, settings, tmp_path / "adapters")
    learner.create("prune", seed=1)
    refs = stepped_versions(learner, "prune", steps=5, first_seed=10)
    on_disk = adapters.versions_on_disk(refs[-1].path.parent)
    # Newest two (v4, v5) and the newest with learner state (v4: steps 4 is even).
    assert [(m.version, m.has_state) for m, _ in on_disk] == [(4, True), (5, False)]
    assert not (refs[-1].path / adapters.OPTIMIZER_FILE).exists()
    learner.delete("prune")

    fresh = PeftLearner(host, settings, tmp_path / "adapters")
    restored = fresh.restore(refs[-1])
    assert restored is not None
    assert restored.path == refs[3].path  # v5 has no learner state: resume from v4
    assert restored.version == 5 and restored.name not in {r.name for r in refs}
    weights = adapters.load_tensors(refs[3].path / adapters.ADAPTER_FILE)
    live = fresh.adapter_state("prune")
    assert all(torch.equal(live[key], value) for key, value in weights.items())
    assert fresh.checkpoint("prune").version == 6  # versions never repeat
    fresh.delete("prune")


def split_settings(tmp_path: Path) -> EngineSettings:
    """A GPU worker's publishing on the CPU: bf16 copies in their own folder, durable state
    every 3rd step, written in the background."""
    return SETTINGS.model_copy(
        update={
            "publish_dir": tmp_path / "shm",
            "publish_dtype": "bfloat16",
            "state_every_steps": 3,
            "background_checkpoints": True,
        }
    )


def test_split_publishing_resumes_from_the_durable_state_when_the_copies_are_gone(host, tmp_path):
    settings = split_settings(tmp_path)
    learner = PeftLearner(host, settings, tmp_path / "adapters")
    learner.create("split", seed=4)
    refs = stepped_versions(learner, "split", steps=4, first_seed=20)
    learner.flush()
    published = load_file(str(refs[-1].path / adapters.ADAPTER_FILE))
    assert refs[-1].path.parent == tmp_path / "shm" / "split"
    assert {value.dtype for value in published.values()} == {torch.bfloat16}
    assert not (refs[-1].path / adapters.OPTIMIZER_FILE).exists()  # the copy is weights only
    assert refs[-1].sha256 == adapters.sha256_file(refs[-1].path / adapters.ADAPTER_FILE)
    durable = adapters.versions_on_disk(tmp_path / "adapters" / "split")
    assert [(m.version, m.has_state) for m, _ in durable] == [(1, True), (3, True)]
    durable_v3 = adapters.load_tensors(durable[-1][1] / adapters.ADAPTER_FILE)
    assert {value.dtype for value in durable_v3.values()} == {torch.float32}

    learner.delete("split")  # the job ends here: its newest version is kept durably
    assert not (tmp_path / "shm" / "split").exists()
    kept = adapters.versions_on_disk(tmp_path / "adapters" / "split")[-1]
    assert kept[0].version == 4 and kept[1].name == refs[-1].name
    kept_weights = adapters.load_tensors(kept[1] / adapters.ADAPTER_FILE)
    assert all(torch.equal(kept_weights[k].bfloat16(), v) for k, v in published.items())

    fresh = PeftLearner(host, settings, tmp_path / "adapters")
    restored = fresh.restore(refs[-1])  # another host: the shared-memory copy is not there
    assert restored is not None and restored.version == 4
    assert restored.path.parent == tmp_path / "adapters" / "split"
    live = fresh.adapter_state("split")
    assert all(torch.equal(live[key], value) for key, value in kept_weights.items())
    fresh.delete("split")
    fresh.close()
    learner.close()


def test_a_job_with_no_durable_state_starts_again_and_keeps_counting(host, tmp_path):
    settings = split_settings(tmp_path)
    learner = PeftLearner(host, settings, tmp_path / "adapters")
    learner.create("lost", seed=5)
    learner.step("lost", synthetic_batch(30))
    ref = learner.checkpoint("lost")
    learner.flush()
    learner._jobs.pop("lost")  # a crash: no end-of-job write
    shutil.rmtree(tmp_path / "adapters")  # and the first durable write never landed

    fresh = PeftLearner(host, settings, tmp_path / "adapters")
    assert fresh.restore(ref, seed=5) is None
    reference = PeftLearner(host, SETTINGS, tmp_path / "reference")
    reference.create("lost-reference", seed=5)
    live, base = fresh.adapter_state("lost"), reference.adapter_state("lost-reference")
    assert all(torch.equal(live[key], base[key]) for key in live)  # the seeded initialisation
    assert fresh.checkpoint("lost").version == ref.version + 1
    for each, job_id in ((fresh, "lost"), (reference, "lost-reference"), (learner, "lost")):
        each.delete(job_id)
        each.close()
