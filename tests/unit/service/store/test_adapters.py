"""Which weights file the API serves for a job's newest adapter version."""

from __future__ import annotations

from pathlib import Path

from service.engine.layout import Manifest, job_key
from service.engine.types import ADAPTER_FILE
from service.store.adapters import served_weights
from service.store.models import Adapter


def version_dir(parent: Path, job_id: str, version: int, payload: bytes) -> Path:
    """A checkpoint folder holding a weights file and its manifest."""
    directory = parent / f"{job_id}-v{version}-abcd"
    directory.mkdir(parents=True)
    (directory / ADAPTER_FILE).write_bytes(payload)
    Manifest(job_id, version, version, False, f"sha-{version}", has_state=True).write(directory)
    return directory


def row(job_id: str, version: int, path: Path) -> Adapter:
    return Adapter(
        job_id=job_id, version=version, name=path.name, int_id=1, path=str(path), sha256="pub"
    )


def test_the_published_copy_is_served_where_this_host_sees_it(tmp_path: Path) -> None:
    published = version_dir(tmp_path / "shm" / "job", "job", 3, b"bf16")
    served = served_weights(row("job", 3, published), tmp_path / "adapters")
    assert served is not None
    assert (served.path, served.version, served.sha256) == (published / ADAPTER_FILE, 3, "pub")


def test_else_the_newest_durable_version_at_or_before_it(tmp_path: Path) -> None:
    adapters_dir = tmp_path / "adapters"
    job_id = "job/with:odd chars"
    durable = adapters_dir / job_key(job_id)
    version_dir(durable, "j", 1, b"one")
    second = version_dir(durable, "j", 2, b"two")
    version_dir(durable, "j", 9, b"newer than the row")  # another run's, never served for v4
    gone = tmp_path / "shm" / "j-v4-ffff"  # a GPU worker's shared memory: not visible here
    served = served_weights(row(job_id, 4, gone), adapters_dir)
    assert served is not None
    assert (served.path, served.version, served.sha256) == (second / ADAPTER_FILE, 2, "sha-2")


def test_nothing_to_serve_is_none(tmp_path: Path) -> None:
    assert served_weights(row("job", 1, tmp_path / "missing"), tmp_path / "adapters") is None
