"""Adapter checkpoints on disk: names never reused, safetensors files, sha256, optimizer state.

A checkpoint directory holds what vLLM and peft load (`adapter_config.json`,
`adapter_model.safetensors`) and `manifest.json`; every `state_every_steps`-th one also holds
what a job needs to continue exactly: the EMA teacher (`teacher.safetensors`) and the AdamW
state (`optimizer.safetensors`). A job keeps its newest few versions, and always the newest
one with learner state, which is where a resume starts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

# Re-exported: the checkpoint's files are named here, the weights file with the engine's types.
from service.engine.types import ADAPTER_FILE as ADAPTER_FILE

TEACHER_FILE = "teacher.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
MANIFEST_FILE = "manifest.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_int_ids = itertools.count(1)
_int_ids_lock = threading.Lock()


class AdapterChecksumError(RuntimeError):
    """An adapter file's sha256 differs from the one its reference promises."""


def next_int_id() -> int:
    """A process-wide integer id, never handed out twice (vLLM keys its caches on it)."""
    with _int_ids_lock:
        return next(_int_ids)


def job_key(job_id: str) -> str:
    """A filesystem- and module-safe key for a job id (hashed when it is not already safe)."""
    if _SAFE_NAME.match(job_id):
        return job_id
    return "h" + hashlib.sha256(job_id.encode()).hexdigest()[:24]


def live_adapter_name(job_id: str) -> str:
    """The job's adapter inside the shared model (a peft adapter name: no dots)."""
    return f"job_{job_key(job_id)}"


def teacher_adapter_name(job_id: str) -> str:
    """The job's EMA teacher adapter inside the shared model."""
    return f"job_{job_key(job_id)}_ema"


def fresh_adapter_name(job_id: str, version: int) -> str:
    """`<job>-v<version>-<random>`: unique even across workers and restarts."""
    return f"{job_key(job_id)}-v{version}-{secrets.token_hex(4)}"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint directory holds besides tensors."""

    job_id: str
    version: int
    steps: int
    has_teacher: bool
    adapter_sha256: str
    has_state: bool = True  # teacher (when EMA) and optimizer files are present

    def write(self, directory: Path) -> None:
        """Write `manifest.json`."""
        (directory / MANIFEST_FILE).write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read `manifest.json`."""
        return cls(**json.loads((directory / MANIFEST_FILE).read_text()))


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> str:
    """Save contiguous CPU copies (safetensors refuses shared or non-contiguous storage).

    Returns the file's sha256, hashed from the bytes in memory rather than read back.
    """
    data = save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def versions_on_disk(job_dir: Path) -> list[tuple[Manifest, Path]]:
    """The job's complete checkpoint directories (staging ones skipped), oldest first."""
    found = []
    for child in job_dir.iterdir() if job_dir.is_dir() else ():
        if child.name.startswith(".") or not (child / MANIFEST_FILE).is_file():
            continue
        found.append((Manifest.read(child), child))
    return sorted(found, key=lambda item: item[0].version)


def newest_with_state(job_dir: Path, at_most: int) -> tuple[Manifest, Path] | None:
    """The newest checkpoint of version <= `at_most` that holds learner state."""
    candidates = [(m, p) for m, p in versions_on_disk(job_dir) if m.has_state]
    eligible = [(m, p) for m, p in candidates if m.version <= at_most]
    return eligible[-1] if eligible else None


def prune_versions(job_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` versions, never the newest one with learner state."""
    versions = versions_on_disk(job_dir)
    keep_paths = {path for _, path in versions[-keep:]}
    stateful = [path for manifest, path in versions if manifest.has_state]
    if stateful:
        keep_paths.add(stateful[-1])
    removed = [path for _, path in versions if path not in keep_paths]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def load_tensors(path: Path, *, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors file, checking its sha256 first when one is expected."""
    if expected_sha256:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise AdapterChecksumError(f"{path}: sha256 {actual} != expected {expected_sha256}")
    return load_file(str(path))


def optimizer_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Flatten a torch optimizer `state_dict()` into tensors plus JSON metadata."""
    tensors = {
        f"state.{index}.{key}": value
        for index, entry in state["state"].items()
        for key, value in entry.items()
    }
    return tensors, {"param_groups": json.dumps(state["param_groups"])}


def optimizer_state(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> dict[str, Any]:
    """Rebuild an optimizer `state_dict()` from `optimizer_tensors`' output."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": json.loads(metadata["param_groups"])}


def save_optimizer(state: dict[str, Any], path: Path) -> None:
    """Write an optimizer `state_dict()` as safetensors (no pickle)."""
    tensors, metadata = optimizer_tensors(state)
    save_file(
        {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(path), metadata
    )


def load_optimizer(path: Path) -> dict[str, Any]:
    """Read an optimizer `state_dict()` written by `save_optimizer`."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in list(handle.keys())}
    return optimizer_state(tensors, metadata)
