"""Problems with reference solutions, from problem files or folders of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sandbox.importers import load_with_references
from service.probe.attempts import ProbeProblem


def load_probe_problems(
    paths: Sequence[Path], *, limit: int | None = None, shortest_first: bool = False
) -> list[ProbeProblem]:
    """Every problem of the files (a folder: its `*.json` and `*.jsonl`) that has a reference,
    in order; `shortest_first` orders them by the reference's length; then the first `limit`.

    Raises OSError or `sandbox.importers.ImportFormatError` for a file that cannot be read."""
    problems: list[ProbeProblem] = []
    seen: set[str] = set()
    for path in _files(paths):
        for item in load_with_references(path):
            if item.reference is None or not item.reference.strip():
                continue
            ident = (
                item.source_id if item.source_id not in seen else f"{path.name}:{item.source_id}"
            )
            seen.add(ident)
            problems.append(ProbeProblem(ident, item.problem, item.reference))
    if shortest_first:
        problems.sort(key=lambda p: len(p.reference))
    return problems[:limit] if limit is not None else problems


def _files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted([*path.glob("*.json"), *path.glob("*.jsonl")]))
        else:
            files.append(path)
    return files
