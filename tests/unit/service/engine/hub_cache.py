"""A model in a hub cache laid out as the hub's client lays it out, made offline for tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def lay_out(hub_cache: Path, repo_id: str, files: dict[str, Path | bytes]) -> Path:
    """`hub_cache/models--org--name`: blobs, a snapshot of links to them, and refs/main.

    A `Path` value is linked to where it lies (a model's weights are not copied)."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, Path):
            blob = repo / "blobs" / hashlib.sha256(str(content).encode()).hexdigest()
            blob.symlink_to(content.resolve())
        else:
            blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
            blob.write_bytes(content)
        (snapshot / name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot
