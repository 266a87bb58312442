"""The problem sets: `examples/` (each with its reference) and MBPP through the importer."""

from __future__ import annotations

from pathlib import Path

from benchmarks.data import MBPP_SANITIZED
from sandbox.importers import ImportedProblem, load_with_references

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "examples"
MBPP_PATH = MBPP_SANITIZED


def load_set(
    name: str,
    *,
    limit: int | None = None,
    only: tuple[str, ...] = (),
    mbpp_path: Path = MBPP_PATH,
    shortest_first: bool = False,
) -> list[ImportedProblem]:
    """The set's problems in a stable order (those named in `only`), the first `limit`.

    `shortest_first` orders them by the length of their reference solution: a small model
    solves short programs or none, so a limited screening budget is best spent there.
    """
    if name == "examples":
        problems = [
            item
            for path in sorted(EXAMPLES_DIR.glob("*.json"))
            for item in load_with_references(path)
        ]
    elif name == "mbpp":
        problems = load_with_references(mbpp_path)
    else:
        raise ValueError(f"unknown problem set {name!r}: examples or mbpp")
    if only:
        problems = [item for item in problems if item.source_id in only]
    if shortest_first:
        problems.sort(key=lambda item: len(item.reference or ""))
    return problems[:limit] if limit is not None else problems
