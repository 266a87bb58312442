"""What every backend does: run the harness on a request inside some box, and report back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sandbox.judge import HarnessOptions
from sandbox.limits import Limits

_PACKAGE = Path(__file__).parent.parent


def bundle_harness() -> str:
    """The harness as one source: the protocol it shares with the host, then the harness."""
    protocol = (_PACKAGE / "protocol.py").read_text()
    harness = (_PACKAGE / "harness.py").read_text()
    harness = harness.replace("from __future__ import annotations\n", "", 1)
    return protocol + "\nBUNDLED_HARNESS = True\n" + harness


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
