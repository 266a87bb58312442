"""The peft learner: one LoRA adapter per job over the worker's shared base model
(docs/algorithm.md §5).

Per job it keeps the student adapter, its AdamW state and, with `teacher=ema`, a second
adapter holding the teacher. One step = teacher and student forwards per micro-batch with
gradient accumulation, the top-K reverse-KL SDPO loss, grad-norm clipping, AdamW, then the
EMA update.

EMA choice: the teacher is a LoRA adapter whose A and B are each an fp32 EMA of the student's
A and B (as TRL's PEFTAdapterEMACallback does, but initialised as a copy of the student, so
both start as the base model). Its delta B̄Ā is not exactly the EMA of the delta BA; an exact
EMA of BA needs a full-rank delta per layer (the size of the model per job). While A moves
little, as at rate 0.01 over tens of steps, the two agree to first order.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from service.config import EngineSettings, SdpoParams, Settings, TeacherKind
from service.engine import adapters, publishing
from service.engine.batch import collate, scored_rows
from service.engine.distill import (
    MicroStep,
    StepTotals,
    autocast_for,
    response_outputs,
    run_micro_batch,
)
from service.engine.host import ModelHost
from service.engine.torch_thread import on_torch_thread
from service.engine.types import AdapterRef, DistillationBatch, DistillationExample, StepMetrics

logger = logging.getLogger(__name__)


class UnknownJobError(KeyError):
    """The learner holds no adapter for this job."""


def job_settings(base: EngineSettings, sdpo: SdpoParams | None) -> EngineSettings:
    """`base` with the SDPO settings a job set, checked by `EngineSettings`' own constraints
    (the merged whole is validated: `model_copy(update=...)` would skip the checks).

    Raises `ValueError` (pydantic's `ValidationError` is one) for a value the settings reject.
    """
    overrides = {} if sdpo is None else sdpo.overrides()
    if not overrides:
        return base
    return EngineSettings.model_validate({**base.model_dump(), **overrides})


@dataclass
class _Job:
    job_id: str
    settings: EngineSettings
    adapter: str
    teacher: str | None
    optimizer: torch.optim.AdamW
    ema_pairs: list[tuple[torch.nn.Parameter, torch.nn.Parameter]]
    version: int = 0
    steps: int = 0
    published: str | None = None  # the newest version's name
    durable_version: int = 0  # the newest version written as a durable checkpoint


class PeftLearner:
    """The `Learner` (docs/algorithm.md §5) on torch + peft (CPU or one GPU).

    Settings used: lr, weight decay, grad clip, micro_batch_size, teacher (+ EMA rate), top_k,
    add_tail, alpha, clip_advantage, is_clip (None turns the IS weight off), loss_chunk_tokens,
    bf16_autocast and gradient_checkpointing (applied to the model by `ModelHost.load`). A job
    may set the SDPO ones (`SdpoParams`) for itself when created or restored.
    """

    def __init__(self, host: ModelHost, settings: EngineSettings, adapters_dir: Path) -> None:
        self.host = host
        self.settings = settings
        self.adapters_dir = adapters_dir
        self.policy = publishing.resolve_policy(settings, host.device, adapters_dir)
        self._writer = publishing.CheckpointWriter(background=self.policy.background)
        self._jobs: dict[str, _Job] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> PeftLearner:
        """Load the configured model and keep checkpoints under the data dir."""
        host = ModelHost.load(settings.engine, settings.model_cache_dir)
        return cls(host, settings.engine, settings.adapters_dir)

    def adapter_name(self, job_id: str) -> str:
        """The job's live adapter inside the shared model (what the HF sampler activates)."""
        self._job(job_id)
        return adapters.live_adapter_name(job_id)

    def has_job(self, job_id: str) -> bool:
        """Whether the job's adapter is loaded here."""
        return job_id in self._jobs

    @on_torch_thread
    def create(self, job_id: str, *, seed: int, sdpo: SdpoParams | None = None) -> None:
        """Start a job from a seeded LoRA init (B = 0: the base model's behaviour).

        `sdpo`: the job's SDPO settings over the worker's (`job_settings`).
        """
        # Validated first, so that bad settings leave a job of the same id untouched.
        settings = job_settings(self.settings, sdpo)
        self.delete(job_id)
        self.host.add_adapter(adapters.live_adapter_name(job_id), seed=seed)
        self._jobs[job_id] = self._assemble(job_id, settings)

    @on_torch_thread
    def restore(
        self, ref: AdapterRef, *, seed: int = 0, sdpo: SdpoParams | None = None
    ) -> AdapterRef | None:
        """Load the newest durable checkpoint at or before `ref`; the next step equals the
        uninterrupted one from there. Returns it under a fresh name and int id.

        Where none survived (a crash before the first durable write finished), the job starts
        again from a fresh adapter made with `seed` and None is returned; its versions still
        continue after `ref`'s. `sdpo` as for `create`; the checkpoint does not hold it.
        """
        settings = job_settings(self.settings, sdpo)
        self._writer.flush()  # this process's own queued writes are resume points too
        found = self._resume_point(ref)
        if found is None:
            logger.warning(
                "job %s: no durable checkpoint at or before v%d; its learning starts again",
                ref.job_id,
                ref.version,
            )
            self.create(ref.job_id, seed=seed, sdpo=sdpo)
            self._jobs[ref.job_id].version = ref.version
            return None
        manifest, path = found
        expected = ref.sha256 if path == ref.path else manifest.adapter_sha256
        weights = adapters.load_tensors(path / adapters.ADAPTER_FILE, expected_sha256=expected)
        self.delete(ref.job_id)
        self.host.load_adapter(adapters.live_adapter_name(ref.job_id), weights)
        teacher_file = path / adapters.TEACHER_FILE
        teacher = adapters.load_tensors(teacher_file) if manifest.has_teacher else None
        job = self._assemble(ref.job_id, settings, teacher_weights=teacher)
        job.optimizer.load_state_dict(adapters.load_optimizer(path / adapters.OPTIMIZER_FILE))
        # The saved param groups carry the lr of the run that wrote them; the job's settings
        # are the one source of truth for it (the same value unless the worker's changed).
        for group in job.optimizer.param_groups:
            group["lr"] = settings.learning_rate
        # Versions continue after the newest recorded one, so no version number repeats.
        job.version, job.steps = ref.version, manifest.steps
        self._jobs[ref.job_id] = job
        return AdapterRef(
            job_id=ref.job_id,
            version=ref.version,
            name=adapters.fresh_adapter_name(ref.job_id, ref.version),
            int_id=adapters.next_int_id(),
            path=path,
            sha256=manifest.adapter_sha256,
        )

    @on_torch_thread
    def delete(self, job_id: str) -> None:
        """Forget the job's adapters and optimizer (no-op for an unknown job), and its
        published copies where they live apart from its checkpoints (shared memory)."""
        job = self._jobs.pop(job_id, None)
        if job is not None:
            self._keep_newest(job)
        self.host.delete_adapter(adapters.live_adapter_name(job_id))
        self.host.delete_adapter(adapters.teacher_adapter_name(job_id))
        if self.policy.split:
            shutil.rmtree(self.policy.publish_root / adapters.job_key(job_id), ignore_errors=True)

    def flush(self) -> None:
        """Wait for the queued durable checkpoint writes (raising the first that failed)."""
        self._writer.flush()

    def close(self) -> None:
        """Finish the queued durable writes and stop the writer's thread."""
        self._writer.close()

    @on_torch_thread
    def step(self, job_id: str, batch: DistillationBatch) -> StepMetrics:
        """One optimizer step on the job's adapter; attempts without feedback only count."""
        job = self._job(job_id)
        start = time.perf_counter()
        usable = [e for e in batch.examples if e.teacher_prompt_ids is not None and e.response_ids]
        totals = StepTotals()
        if not usable:
            return _metrics(totals, 0.0, time.perf_counter() - start, batch, usable)
        settings = job.settings
        micro_step = MicroStep(
            host=self.host,
            settings=settings,
            student=job.adapter,
            teacher=job.teacher,
            temperature=batch.temperature,
            sequences_in_step=len(batch.examples),
        )
        params = [p for group in job.optimizer.param_groups for p in group["params"]]
        job.optimizer.zero_grad(set_to_none=True)
        with self.host.lock:
            for chunk in micro_batches(usable, settings):
                micro = collate(chunk, pad_id=self._pad_id, device=self.host.device)
                run_micro_batch(micro_step, micro, totals)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, settings.grad_clip))
            job.optimizer.step()
            job.optimizer.zero_grad(set_to_none=True)
            self._update_teacher(job)
        job.steps += 1
        return _metrics(totals, grad_norm, time.perf_counter() - start, batch, usable)

    @on_torch_thread
    def checkpoint(self, job_id: str) -> AdapterRef:
        """Publish the adapter under a fresh, never-reused name, and after the first and every
        `state_every_steps`-th step write a durable checkpoint (fp32 adapter, teacher,
        optimizer), inline or queued (`publishing`); old versions are pruned."""
        job = self._job(job_id)
        policy = self.policy
        version = job.version + 1
        name = adapters.fresh_adapter_name(job_id, version)
        with_state = policy.wants_state(job.steps)
        if policy.split:
            # The sampler reads the published copy now; the durable one may follow later.
            parent = policy.publish_root / adapters.job_key(job_id)
            sha256 = self._writing(
                job, parent, name, version, dtype=policy.publish_dtype, state=False
            )()
            if with_state:
                self._writer.submit(self._writing(job, self._job_dir(job_id), name, version))
                job.durable_version = version
        else:
            parent = self._job_dir(job_id)
            dtype = torch.float32 if with_state else policy.publish_dtype
            sha256 = self._writing(job, parent, name, version, dtype=dtype, state=with_state)()
        job.version, job.published = version, name
        return AdapterRef(
            job_id=job_id,
            version=version,
            name=name,
            int_id=adapters.next_int_id(),
            path=parent / name,
            sha256=sha256,
        )

    @on_torch_thread
    def response_logits(
        self,
        job_id: str | None,
        prompt_ids: list[int],
        response_ids: list[int],
        *,
        teacher: bool = False,
    ) -> torch.Tensor:
        """Logits `[T, V]` (fp32, no grad) predicting each response token, for scoring and checks.

        job_id=None scores with the base model; teacher=True with the job's teacher.
        """
        name = None
        if job_id is not None:
            job = self._job(job_id)
            name = job.teacher if teacher else job.adapter
        rows = scored_rows(
            [prompt_ids], [response_ids], pad_id=self._pad_id, device=self.host.device
        )
        autocast = autocast_for(self.host.device, self.settings.bf16_autocast)
        with torch.no_grad(), self.host.active(name) as model, autocast:
            logits = response_outputs(model, rows, len(response_ids), hidden=False)
        return logits[0].float()

    @on_torch_thread
    def adapter_state(self, job_id: str, *, teacher: bool = False) -> dict[str, torch.Tensor]:
        """A detached copy of the student's (or teacher's) LoRA weights, peft key format."""
        job = self._job(job_id)
        name = job.teacher if teacher else job.adapter
        if name is None:
            raise ValueError(
                f"job {job_id!r} has a frozen-base teacher, with no weights of its own"
            )
        state = self.host.weights_of(name)
        return {key: value.detach().clone() for key, value in state.items()}

    @property
    def _pad_id(self) -> int:
        tokenizer = self.host.tokenizer
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        return int(pad)

    def _job(self, job_id: str) -> _Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJobError(job_id) from None

    def _assemble(
        self,
        job_id: str,
        settings: EngineSettings,
        *,
        teacher_weights: dict[str, torch.Tensor] | None = None,
    ) -> _Job:
        """Optimizer and teacher, per the job's `settings`, for a freshly added student adapter."""
        student = self.host.parameters_of(adapters.live_adapter_name(job_id))
        ordered = [student[key] for key in sorted(student)]
        for param in ordered:
            param.requires_grad_(True)
        optimizer = torch.optim.AdamW(
            ordered, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        if settings.teacher is TeacherKind.FROZEN:
            return _Job(job_id, settings, adapters.live_adapter_name(job_id), None, optimizer, [])
        pairs = self._add_teacher(job_id, student, teacher_weights)
        return _Job(
            job_id,
            settings,
            adapters.live_adapter_name(job_id),
            adapters.teacher_adapter_name(job_id),
            optimizer,
            pairs,
        )

    def _add_teacher(
        self,
        job_id: str,
        student: dict[str, torch.nn.Parameter],
        weights: dict[str, torch.Tensor] | None,
    ) -> list[tuple[torch.nn.Parameter, torch.nn.Parameter]]:
        name = adapters.teacher_adapter_name(job_id)
        if weights is None:
            self.host.add_adapter(name, seed=0)  # its init is overwritten by the student's below
        else:
            self.host.load_adapter(name, weights)
        teacher = self.host.parameters_of(name)
        pairs = [(teacher[key], student[key]) for key in sorted(student)]
        with torch.no_grad():
            for target, source in pairs:
                target.requires_grad_(False)
                if weights is None:
                    target.copy_(source.float())
        return pairs

    def _update_teacher(self, job: _Job) -> None:
        rate = job.settings.teacher_ema_rate
        with torch.no_grad():
            for target, source in job.ema_pairs:
                target.lerp_(source.to(target.dtype), rate)

    def _writing(
        self,
        job: _Job,
        parent: Path,
        name: str,
        version: int,
        *,
        dtype: torch.dtype = torch.float32,
        state: bool = True,
    ) -> Callable[[], str]:
        """A write of the job's version as it is now (snapshot taken here, since later steps
        update the live tensors in place); `state` adds the teacher and optimizer."""
        teacher = self.host.weights_of(job.teacher) if state and job.teacher else None
        optimizer = job.optimizer.state_dict() if state else None
        snapshot = publishing.Snapshot.take(self.host.weights_of(job.adapter), teacher, optimizer)
        manifest = adapters.Manifest(
            job_id=job.job_id,
            version=version,
            steps=job.steps,
            has_teacher=teacher is not None,
            adapter_sha256="",
            has_state=state,
        )
        save_config = self.host.config.save_pretrained
        keep = self.settings.keep_adapter_versions
        return functools.partial(
            publishing.write_version, parent, name, manifest, snapshot, save_config, dtype, keep
        )

    def _keep_newest(self, job: _Job) -> None:
        """At a job's end here, make its newest version durable if only its published copy
        (in shared memory, deleted with the job) holds it, so it can still be downloaded."""
        if not self.policy.split or job.published is None or job.durable_version == job.version:
            return
        self._writer.submit(
            self._writing(job, self._job_dir(job.job_id), job.published, job.version)
        )
        self._writer.flush()

    def _job_dir(self, job_id: str) -> Path:
        return self.adapters_dir / adapters.job_key(job_id)

    def _resume_point(self, ref: AdapterRef) -> tuple[adapters.Manifest, Path] | None:
        """`ref`'s checkpoint if it holds learner state, else the newest durable one at or
        before it (None when there is none)."""
        if (ref.path / adapters.MANIFEST_FILE).is_file():
            manifest = adapters.Manifest.read(ref.path)
            if manifest.job_id != ref.job_id:
                raise ValueError(
                    f"{ref.path} belongs to job {manifest.job_id!r}, not {ref.job_id!r}"
                )
            if manifest.has_state:
                return manifest, ref.path
        return adapters.newest_with_state(self._job_dir(ref.job_id), ref.version)


def micro_batches(
    examples: Sequence[DistillationExample], settings: EngineSettings
) -> list[list[DistillationExample]]:
    """Consecutive examples grouped so that each group's padded tokens stay within
    `micro_batch_tokens` (None: no token bound) and its rows within `micro_batch_size`.

    A row is as long as the longer of its student and teacher rows, and a group pays for
    its longest row in every row. A row longer than the budget goes alone.
    """
    groups: list[list[DistillationExample]] = []
    longest = 0
    for example in examples:
        length = row_tokens(example)
        group = groups[-1] if groups else None
        widened = max(longest, length)
        if group is None or not _fits(len(group) + 1, widened, settings):
            groups.append([example])
            longest = length
            continue
        group.append(example)
        longest = widened
    return groups


def row_tokens(example: DistillationExample) -> int:
    """A row's padded length: the longer of its student and teacher prompts, plus the response."""
    prompt = max(len(example.prompt_ids), len(example.teacher_prompt_ids or ()))
    return prompt + len(example.response_ids)


def _fits(rows: int, longest: int, settings: EngineSettings) -> bool:
    if rows > settings.micro_batch_size:
        return False
    return settings.micro_batch_tokens is None or rows * longest <= settings.micro_batch_tokens


def _metrics(
    totals: StepTotals,
    grad_norm: float,
    seconds: float,
    batch: DistillationBatch,
    usable: list[DistillationExample],
) -> StepMetrics:
    extras = totals.token_means()
    extras["sequences"] = float(len(batch.examples))
    extras["masked_sequences"] = float(len(batch.examples) - len(usable))
    return StepMetrics(
        loss=totals.loss,
        kl=totals.kl,
        grad_norm=grad_norm,
        seconds=seconds,
        tokens=totals.tokens,
        extras=extras,
    )
