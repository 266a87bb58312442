"""Checkpoint versions on disk: pruning keeps the newest few and the newest resume point."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from service.engine import adapters


def write_version(job_dir: Path, version: int, *, has_state: bool) -> Path:
    path = job_dir / f"job-v{version}-abcd"
    path.mkdir(parents=True)
    adapters.Manifest(
        job_id="job", version=version, steps=version, has_teacher=has_state,
        adapter_sha256="0" * 64, has_state=has_state,
    ).write(path)  # fmt: skip
    return path


def test_prune_keeps_the_newest_and_the_newest_with_state(tmp_path: Path) -> None:
    paths = {v: write_version(tmp_path, v, has_state=v in (1, 2)) for v in range(1, 7)}
    (tmp_path / ".staging-v7").mkdir()  # a checkpoint being written is never touched
    removed = adapters.prune_versions(tmp_path, keep=2)
    assert sorted(removed) == sorted([paths[1], paths[3], paths[4]])
    kept = [m.version for m, _ in adapters.versions_on_disk(tmp_path)]
    assert kept == [2, 5, 6]
    assert (tmp_path / ".staging-v7").is_dir()


def test_newest_with_state_looks_back_from_a_version(tmp_path: Path) -> None:
    for version in range(1, 5):
        write_version(tmp_path, version, has_state=version % 2 == 1)
    found = adapters.newest_with_state(tmp_path, at_most=4)
    assert found is not None and found[0].version == 3
    assert adapters.newest_with_state(tmp_path, at_most=0) is None


def test_save_tensors_hashes_exactly_the_bytes_written(tmp_path: Path) -> None:
    path = tmp_path / "a.safetensors"
    digest = adapters.save_tensors({"w": torch.arange(6.0).reshape(2, 3)}, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(
        adapters.load_tensors(path, expected_sha256=digest)["w"][1], torch.tensor([3.0, 4.0, 5.0])
    )


def test_manifests_written_before_learner_state_was_optional_read_as_stateful(
    tmp_path: Path,
) -> None:
    (tmp_path / adapters.MANIFEST_FILE).write_text(
        '{"job_id": "j", "version": 1, "steps": 1, "has_teacher": true, "adapter_sha256": "x"}'
    )
    assert adapters.Manifest.read(tmp_path).has_state
