"""The Docker backend's security options per daemon."""

from __future__ import annotations

from typing import Any

from docker.errors import DockerException

from sandbox.backends.docker import security_options


class _Client:
    def __init__(self, options: list[str] | Exception) -> None:
        self.options = options

    def info(self) -> dict[str, Any]:
        if isinstance(self.options, Exception):
            raise self.options
        return {"SecurityOptions": self.options}


def test_apparmor_hosts_run_the_boxes_unconfined() -> None:
    assert security_options(_Client(["name=seccomp,profile=default"])) == ["no-new-privileges"]
    assert security_options(_Client(["name=apparmor", "name=seccomp,profile=default"])) == [
        "no-new-privileges",
        "apparmor=unconfined",
    ]
    assert security_options(_Client(DockerException("gone"))) == ["no-new-privileges"]
