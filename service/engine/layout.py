"""The checkpoint folder's layout, torch-free (the API reads it to serve a job's adapter):
a job's folder name, the manifest each version holds, and the versions on disk."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

MANIFEST_FILE = "manifest.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def job_key(job_id: str) -> str:
    """A filesystem- and module-safe key for a job id (hashed when it is not already safe)."""
    if _SAFE_NAME.match(job_id):
        return job_id
    return "h" + hashlib.sha256(job_id.encode()).hexdigest()[:24]


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
