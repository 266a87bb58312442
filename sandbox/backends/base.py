"""What every backend does: run the harness on a request inside some box, and report back.

The harness runs as one source (`HARNESS_SOURCE`): `bundle_harness` joins the protocol and the
modules of `sandbox/harness/` in the fixed order of `HARNESS_FILES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sandbox.judge import HarnessOptions
from sandbox.limits import Limits

_PACKAGE = Path(__file__).parent.parent
# The harness's files, in the order the bundle holds them: the protocol it shares with the
# host, then each harness module after every one it imports from (the bundle is one namespace,
# run top down, so a name must be defined above the module-level code that uses it).
HARNESS_FILES: tuple[str, ...] = (
    "protocol.py",
    "harness/pinned.py",
    "harness/values.py",
    "harness/strict.py",
    "harness/program.py",
    "harness/privileges.py",
    "harness/syscalls.py",
    "harness/cleanup.py",
    "harness/box.py",
    "harness/case.py",
    "harness/main.py",
)
FUTURE_IMPORT = "from __future__ import annotations\n"
# A file's imports of the package sit between these lines; bundled, the files before it define
# those names, and importing the package would cost each harness start the whole of pydantic
# (on a host where it is installed) or fail (in the sandbox image, where it is not).
STRIP_START = "# bundle: strip-start"
STRIP_END = "# bundle: strip-end"


def bundle_harness() -> str:
    """The harness as one stdlib-only source: `HARNESS_FILES` in order, each without its
    future import (one heads the bundle) and its imports of the package."""
    parts = [f"# --- sandbox/{name}\n{bundled_file(name)}" for name in HARNESS_FILES]
    return FUTURE_IMPORT + "\n".join(parts)


def bundled_file(name: str) -> str:
    """One file of `HARNESS_FILES` as the bundle holds it."""
    kept: list[str] = []
    stripping = False
    for line in (_PACKAGE / name).read_text().splitlines(keepends=True):
        if line.startswith((STRIP_START, STRIP_END)):
            opening = line.startswith(STRIP_START)
            if opening == stripping:  # opened inside a block, or closed outside any
                raise ValueError(f"sandbox/{name}: unbalanced {line.strip()!r}")
            stripping = opening
        elif not stripping and line != FUTURE_IMPORT:
            kept.append(line)
    if stripping:
        raise ValueError(f"sandbox/{name}: {STRIP_START!r} without {STRIP_END!r}")
    return "".join(kept)


HARNESS_SOURCE = bundle_harness()


class SandboxError(RuntimeError):
    """The sandbox itself failed; the program is never blamed for this."""


@dataclass(frozen=True)
class HarnessRun:
    """The raw outcome of one harness execution."""

    stdout: bytes
    stderr: bytes
    exit_code: int | None
    timed_out: bool
    wall_s: float


class Backend(Protocol):
    """A place to run the harness: a Docker container pool, or bubblewrap on the host."""

    name: str

    def options(self) -> HarnessOptions:
        """Where the harness runs: uid to drop to, dirs to scrub, working directory."""
        ...

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Run the harness on `request`; raise SandboxError when the box itself failed."""
        ...

    def close(self) -> None:
        """Release every container or process this backend holds."""
        ...
