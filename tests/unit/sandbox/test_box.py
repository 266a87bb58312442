"""The Docker box's CPU counter and the case's CPU figure built from it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.backends.docker import security_options
from sandbox.harness.box import CpuMeter
from sandbox.harness.case import _CpuReading


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[tuple[Path, CpuMeter]]:
    """A counter file and a meter on it, closed after the test."""
    path = tmp_path / "counter"
    path.write_text("")
    meter = CpuMeter(os.open(path, os.O_RDONLY))
    yield path, meter
    os.close(meter.fd or -1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1500000000\n", 1.5),  # cgroup v1 cpuacct.usage, nanoseconds
        ("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n", 2.5),  # v2 cpu.stat
        ("", None),
        ("nr_periods 0\n", None),
    ],
)
def test_the_meter_reads_both_cgroup_versions(
    counter: tuple[Path, CpuMeter], text: str, seconds: float
) -> None:
    path, meter = counter
    path.write_text(text)
    assert meter.read_s() == seconds
    assert CpuMeter(None).read_s() is None


def test_the_meter_rereads_the_counter_each_time(counter: tuple[Path, CpuMeter]) -> None:
    path, meter = counter
    path.write_text("1000000000\n")
    assert meter.read_s() == 1.0
    path.write_text("3000000000\n")
    assert meter.read_s() == 3.0


@pytest.mark.parametrize(
    ("children", "cgroup", "own", "spent"),
    [
        ((0.0, 1.0), (10.0, 11.2), (0.5, 0.6), 1.1),  # the cgroup saw CPU nobody waited for
        ((0.0, 1.0), (10.0, 10.5), (0.5, 0.6), 1.0),  # waited-for CPU is the larger
        ((0.0, 1.0), (None, None), (0.5, 0.6), 1.0),  # no counter: what came back through wait
    ],
)
def test_a_case_is_charged_the_larger_measure(
    children: tuple[float, float],
    cgroup: tuple[float | None, float | None],
    own: tuple[float, float],
    spent: float,
) -> None:
    before = _CpuReading(children[0], cgroup[0], own[0])
    after = _CpuReading(children[1], cgroup[1], own[1])
    assert after.spent_since(before) == pytest.approx(spent)


class _Client:
    def __init__(self, options: list[str] | Exception) -> None:
        self.options = options

    def info(self) -> dict[str, Any]:
        if isinstance(self.options, Exception):
            raise self.options
        return {"SecurityOptions": self.options}


def test_apparmor_hosts_run_the_boxes_unconfined() -> None:
    from docker.errors import DockerException

    assert security_options(_Client(["name=seccomp,profile=default"])) == ["no-new-privileges"]
    assert security_options(_Client(["name=apparmor", "name=seccomp,profile=default"])) == [
        "no-new-privileges",
        "apparmor=unconfined",
    ]
    assert security_options(_Client(DockerException("gone"))) == ["no-new-privileges"]
