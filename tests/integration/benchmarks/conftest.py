"""What the in-process benchmark tests share: the real model on the CPU and the Docker sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.config import get_settings
from tests.integration.sandbox.conftest import docker_ready


@pytest.fixture
def cpu_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real model on the CPU and the Docker sandbox, with settings read afresh."""
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("RETROSPECT_ENGINE__DEVICE", "cpu")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
