"""A shipped model's GGUF from its installed packages: found, assembled and checked.

The packages are located without being imported (`importlib.util.find_spec`), so a package of
data runs no code. The parts are streamed into one file while hashing; a wrong size or sha256
(a corrupted or mixed-up part) is refused with the command that reinstalls them.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from service.engine.catalog import PackagedFile, ShippedModel
from service.engine.errors import ModelNotFoundError

CHUNK_BYTES = 8 * 1024 * 1024


def locate(part: PackagedFile) -> Path | None:
    """The installed file of `part`, or None when its package or file is missing."""
    spec = importlib.util.find_spec(part.module)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / part.path
    return path if path.is_file() else None


def part_paths(model: ShippedModel) -> list[Path]:
    """Every part's file, in order; a missing one is an error naming what to install."""
    found = [(part, locate(part)) for part in model.parts]
    missing = [part.requirement for part, path in found if path is None]
    if missing:
        raise ModelNotFoundError(
            f"model {model.name!r} needs {len(missing)} more package(s) "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
            f"{model.install_hint()}"
        )
    return [path for _, path in found if path is not None]


def assemble(model: ShippedModel, paths: list[Path], out: Path) -> None:
    """Concatenate `paths` into `out`, refusing (and removing) a file of the wrong hash."""
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as sink:
        for path in paths:
            with path.open("rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
    if size != model.size_bytes or digest.hexdigest() != model.sha256:
        out.unlink()
        raise ModelNotFoundError(
            f"model {model.name!r}: its installed parts assemble to {size:,} bytes with sha256 "
            f"{digest.hexdigest()[:16]}..., not the {model.size_bytes:,} bytes with sha256 "
            f"{model.sha256[:16]}... it is defined by; a part is corrupted or of another "
            f"version: reinstall them with --force-reinstall ({model.install_hint()})"
        )
