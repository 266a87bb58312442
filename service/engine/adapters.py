"""Adapter checkpoints on disk: names never reused, safetensors files, sha256, optimizer state.

A checkpoint directory holds what vLLM and peft load (`adapter_config.json`,
`adapter_model.safetensors`) and `manifest.json`; every `state_every_steps`-th one also holds
what a job needs to continue exactly: the EMA teacher (`teacher.safetensors`) and the AdamW
state (`optimizer.safetensors`). A job keeps its newest few versions, and always the newest
one with learner state, which is where a resume starts.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

# Re-exported: the layout (names, manifest, versions) is torch-free, so the API reads it too.
from service.engine.layout import MANIFEST_FILE as MANIFEST_FILE
from service.engine.layout import Manifest as Manifest
from service.engine.layout import job_key as job_key
from service.engine.layout import newest_with_state as newest_with_state
from service.engine.layout import sha256_file as sha256_file
from service.engine.layout import versions_on_disk as versions_on_disk
from service.engine.types import ADAPTER_FILE as ADAPTER_FILE
from service.engine.types import next_int_id as next_int_id

TEACHER_FILE = "teacher.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"


class AdapterChecksumError(RuntimeError):
    """An adapter file's sha256 differs from the one its reference promises."""


def live_adapter_name(job_id: str) -> str:
    """The job's adapter inside the shared model (a peft adapter name: no dots)."""
    return f"job_{job_key(job_id)}"


def teacher_adapter_name(job_id: str) -> str:
    """The job's EMA teacher adapter inside the shared model."""
    return f"job_{job_key(job_id)}_ema"


def fresh_adapter_name(job_id: str, version: int) -> str:
    """`<job>-v<version>-<random>`: unique even across workers and restarts."""
    return f"{job_key(job_id)}-v{version}-{secrets.token_hex(4)}"


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> str:
    """Save contiguous CPU copies (safetensors refuses shared or non-contiguous storage).

    Returns the file's sha256, hashed from the bytes in memory rather than read back.
    """
    data = save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


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
