"""Real backends for the sandbox integration tests; a missing part skips (and fails in CI)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from docker.errors import DockerException

from sandbox import Sandbox
from sandbox.backends.docker import OWNER_LABEL, DockerBackend, owner_tag
from sandbox.backends.process import ProcessBackend, bwrap_available
from sandbox.image import DEFAULT_IMAGE, image_exists


def docker_ready() -> str | None:
    """None when Docker and the sandbox image are usable, else the reason they are not."""
    try:
        docker.from_env().ping()
    except DockerException as exc:
        return f"no Docker daemon: {exc}"
    if not image_exists(DEFAULT_IMAGE):
        return f"sandbox image {DEFAULT_IMAGE} missing (make image)"
    return None


def our_containers() -> list[object]:
    """Sandbox containers owned by this test process."""
    client = docker.from_env()
    try:
        return list(
            client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner_tag()}"})
        )
    finally:
        client.close()


@pytest.fixture(scope="module")
def docker_sandbox() -> Iterator[Sandbox]:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    # One slot: consecutive attempts reuse the same warm container, as they do in production.
    sandbox = Sandbox(DockerBackend(concurrency=1))
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def process_sandbox() -> Iterator[Sandbox]:
    if not bwrap_available():
        pytest.skip("bubblewrap or /usr/bin/python3 missing")
    sandbox = Sandbox(ProcessBackend(concurrency=1))
    yield sandbox
    sandbox.close()


@pytest.fixture(params=["docker", "process"])
def any_sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """Each test using this runs once per backend."""
    name = "docker_sandbox" if request.param == "docker" else "process_sandbox"
    sandbox: Sandbox = request.getfixturevalue(name)
    return sandbox
