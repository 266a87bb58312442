"""Where a job's adapter versions go: the copy the sampler loads, and the durable checkpoints.

Every step publishes a version: adapter weights, `adapter_config.json` and a manifest, in the
publish dtype, under the publish folder, which is what vLLM reads back. Every
`state_every_steps`-th step (and the first) also writes a durable checkpoint under the
checkpoint folder: the fp32 adapter, the teacher and the optimizer, which is where a resume
starts. On a CPU host both are one folder, written inline, in fp32, every step (what the tests
and the transformers sampler need). On CUDA the published copy goes to shared memory in bf16
and the durable checkpoints, every 5th step, are written by a background thread from a
snapshot taken at the step, so the GPU never waits on the disk (docs/memory-plan.md,
"Publishing").
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from service.config import EngineSettings
from service.engine import adapters

logger = logging.getLogger(__name__)

SHARED_MEMORY = Path("/dev/shm")
# How often a CUDA worker writes learner state when the settings leave it unset.
CUDA_STATE_EVERY_STEPS = 5


class CheckpointWriteError(RuntimeError):
    """A background checkpoint write failed; the job's durable state is behind."""


@dataclass(frozen=True)
class PublishPolicy:
    """The resolved publishing settings of one worker (see `resolve_policy`)."""

    publish_root: Path
    checkpoint_root: Path
    publish_dtype: torch.dtype
    state_every_steps: int
    background: bool

    @property
    def split(self) -> bool:
        """Whether the published copy and the durable checkpoint live in different folders."""
        return self.publish_root != self.checkpoint_root

    def wants_state(self, steps: int) -> bool:
        """Whether the version after `steps` steps gets a durable checkpoint."""
        return steps == 1 or steps % self.state_every_steps == 0


def resolve_policy(
    settings: EngineSettings, device: torch.device, checkpoint_root: Path
) -> PublishPolicy:
    """The settings' `None`s resolved for `device`: CUDA gets shared memory, bf16, every 5th
    step's state and background writes; a CPU host one folder, fp32, every step, inline."""
    cuda = device.type == "cuda"
    publish_root = settings.publish_dir
    if publish_root is None:
        shared = cuda and SHARED_MEMORY.is_dir()
        publish_root = SHARED_MEMORY / "retrospect-adapters" if shared else checkpoint_root
    dtype_name = settings.publish_dtype
    if dtype_name == "auto":
        dtype_name = "bfloat16" if cuda else "float32"
    state_every = settings.state_every_steps
    if state_every is None:
        state_every = CUDA_STATE_EVERY_STEPS if cuda else 1
    background = settings.background_checkpoints
    return PublishPolicy(
        publish_root=publish_root,
        checkpoint_root=checkpoint_root,
        publish_dtype=getattr(torch, dtype_name),
        state_every_steps=state_every,
        background=cuda if background is None else background,
    )


@dataclass(frozen=True)
class Snapshot:
    """A version's tensors, copied off the live model at the step (CPU, detached)."""

    adapter: dict[str, torch.Tensor]
    teacher: dict[str, torch.Tensor] | None
    optimizer: dict[str, Any] | None

    @classmethod
    def take(
        cls,
        adapter: dict[str, torch.Tensor],
        teacher: dict[str, torch.Tensor] | None,
        optimizer: dict[str, Any] | None,
    ) -> Snapshot:
        """Copies that later steps cannot change (the live tensors are updated in place)."""
        return cls(
            adapter=_cpu_copy(adapter),
            teacher=None if teacher is None else _cpu_copy(teacher),
            optimizer=None if optimizer is None else _copy_optimizer(optimizer),
        )


def _cpu_copy(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}


def _copy_optimizer(state: dict[str, Any]) -> dict[str, Any]:
    copied = {
        index: {
            key: value.detach().to("cpu", copy=True) if isinstance(value, torch.Tensor) else value
            for key, value in entry.items()
        }
        for index, entry in state["state"].items()
    }
    return {"state": copied, "param_groups": state["param_groups"]}


def write_version(
    parent: Path,
    name: str,
    manifest: adapters.Manifest,
    snapshot: Snapshot,
    write_config: Callable[[str], None],
    dtype: torch.dtype,
    keep: int,
) -> str:
    """Write one version directory atomically (staged, then renamed), prune old versions,
    and return the adapter file's sha256."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        weights = {k: v.to(dtype) for k, v in snapshot.adapter.items()}
        sha256 = adapters.save_tensors(weights, staging / adapters.ADAPTER_FILE)
        write_config(str(staging))
        if snapshot.teacher is not None:
            adapters.save_tensors(snapshot.teacher, staging / adapters.TEACHER_FILE)
        if snapshot.optimizer is not None:
            adapters.save_optimizer(snapshot.optimizer, staging / adapters.OPTIMIZER_FILE)
        replace(manifest, adapter_sha256=sha256).write(staging)
        staging.rename(parent / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    adapters.prune_versions(parent, keep)
    return sha256


class CheckpointWriter:
    """Runs durable writes inline or on one background thread, in submission order.

    A failed background write is raised (as `CheckpointWriteError`) by the next `submit`,
    `flush` or `close`, so a job whose durable state fell behind fails with the reason instead
    of running on without a resume point.
    """

    def __init__(self, *, background: bool) -> None:
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoints")
            if background
            else None
        )
        self._pending: list[Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, write: Callable[[], Any]) -> None:
        """Run `write` now, or queue it behind the earlier writes."""
        self._raise_failures(wait=False)
        if self._executor is None:
            write()
            return
        with self._lock:
            self._pending.append(self._executor.submit(write))

    def flush(self) -> None:
        """Wait for every queued write; raise the first that failed."""
        self._raise_failures(wait=True)

    def close(self) -> None:
        """Finish the queued writes and stop the thread."""
        try:
            self.flush()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)

    def _raise_failures(self, *, wait: bool) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        still: list[Future[Any]] = []
        failure: BaseException | None = None
        for future in pending:
            if wait or future.done():
                error = future.exception()
                if error is not None and failure is None:
                    failure = error
            else:
                still.append(future)
        with self._lock:
            self._pending = still + self._pending
        if failure is not None:
            raise CheckpointWriteError(f"a background checkpoint write failed: {failure}") from (
                failure
            )
