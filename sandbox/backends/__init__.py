"""Sandbox backends: `docker` (default where a daemon answers) and `process` (bubblewrap)."""

from __future__ import annotations

import logging
from typing import Literal

from sandbox.backends.base import Backend, HarnessRun, SandboxError

logger = logging.getLogger(__name__)

BackendName = Literal["auto", "docker", "process"]

__all__ = ["Backend", "BackendName", "HarnessRun", "SandboxError", "make_backend"]


def make_backend(
    name: BackendName = "auto", *, concurrency: int = 4, image: str | None = None
) -> Backend:
    """The named backend; `auto` takes Docker when a daemon answers, else bubblewrap."""
    from sandbox.backends.docker import DockerBackend
    from sandbox.backends.process import ProcessBackend
    from sandbox.image import DEFAULT_IMAGE

    if name == "process":
        return ProcessBackend(concurrency=concurrency)
    try:
        return DockerBackend(image or DEFAULT_IMAGE, concurrency=concurrency)
    except SandboxError:
        if name == "docker":
            raise
        logger.warning("Docker is not usable here; falling back to the process backend")
        return ProcessBackend(concurrency=concurrency)
