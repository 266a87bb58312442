"""The Docker backend: a warm pool of hardened containers, each serving attempts in turn.

A container's main process is the harness in `--serve` mode: the pool keeps its attached
stdin/stdout open and sends one request per attempt, so an attempt costs no `docker exec`
(no runc exec, no interpreter start) once the container is warm.

Each container: no network, read-only root, a small noexec tmpfs /tmp, no capabilities but
the three the harness needs to drop to the program's uid and kill what the program leaves
(SETUID, SETGID, KILL), no-new-privileges, pids/memory/CPU limits, an init that reaps zombies,
and labels naming the process that owns it, so a later start sweeps the orphans of a crash.
A container is recycled after `max_uses` attempts or after any fault.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from sandbox.backends.base import HARNESS_SOURCE, HarnessRun, SandboxError
from sandbox.image import DEFAULT_IMAGE
from sandbox.judge import HarnessOptions
from sandbox.limits import Limits

logger = logging.getLogger(__name__)

POOL_LABEL = "retrospect.sandbox"
OWNER_LABEL = "retrospect.owner"
PROGRAM_UID = 65534
HARNESS_HEADROOM_MB = 128
READ_CHUNK_BYTES = 1 << 16


@dataclass
class _Slot:
    container: Any
    session: _Session
    memory_mb: int
    uses: int = 0


def owner_tag() -> str:
    """`<hostname>:<pid>` of this process, written on every container it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DockerBackend:
    """Runs the harness in pooled containers; thread-safe, with a concurrency limit."""

    name = "docker"

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        concurrency: int = 4,
        max_uses: int = 50,
        runtime: str | None = None,
    ) -> None:
        try:
            self.client = docker.from_env()
            self.client.images.get(image)
        except ImageNotFound as exc:
            raise SandboxError(
                f"sandbox image {image!r} is missing: run `python -m sandbox build-image`"
            ) from exc
        except DockerException as exc:
            raise SandboxError(f"no Docker daemon answers: {exc}") from exc
        self.image = image
        self.max_uses = max_uses
        self.runtime = runtime
        self._slots = threading.BoundedSemaphore(concurrency)
        self._idle: list[_Slot] = []
        self._lock = threading.Lock()
        self._closed = False
        sweep_orphans(self.client)

    def options(self) -> HarnessOptions:
        """The harness runs as root in the container and drops to the program's uid per case."""
        return HarnessOptions(
            drop_uid=PROGRAM_UID, scrub_dirs=("/tmp", "/dev/shm"), workdir="/tmp", kill_scope="uid"
        )

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Run one attempt in a warm container; recycle the container on any fault."""
        with self._slots:
            slot = self._acquire(limits)
            healthy = False
            try:
                run = slot.session.run(request, limits.attempt_wall_limit_s(n_cases) + 5.0)
                healthy = _looks_healthy(run)
                return run
            finally:
                self._release(slot, healthy)

    def close(self) -> None:
        """Remove every idle container; busy ones are removed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for slot in idle:
            slot.session.close()
            _remove(slot.container)
        self.client.close()

    def _acquire(self, limits: Limits) -> _Slot:
        memory_mb = limits.memory_limit_mb + HARNESS_HEADROOM_MB
        with self._lock:
            for slot in self._idle:
                if slot.memory_mb == memory_mb:
                    self._idle.remove(slot)
                    return slot
        container = self._start_container(limits, memory_mb)
        try:
            session = _Session.attach(self.client.api, container.id)
        except (DockerException, OSError) as exc:
            _remove(container)
            raise SandboxError(f"could not attach to a sandbox container: {exc}") from exc
        return _Slot(container, session, memory_mb)

    def _release(self, slot: _Slot, healthy: bool) -> None:
        slot.uses += 1
        with self._lock:
            keep = healthy and not self._closed and slot.uses < self.max_uses
            if keep:
                self._idle.append(slot)
        if not keep:
            slot.session.close()
            threading.Thread(target=_remove, args=(slot.container,), daemon=True).start()

    def _start_container(self, limits: Limits, memory_mb: int) -> Any:
        try:
            container = self.client.containers.create(
                self.image,
                ["python3", "-I", "-c", HARNESS_SOURCE, "--serve"],
                stdin_open=True,
                init=True,
                user="0:0",  # the harness; each case drops to PROGRAM_UID
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777"},
                shm_size="4m",
                cap_drop=["ALL"],
                cap_add=["SETUID", "SETGID", "KILL"],
                security_opt=["no-new-privileges"],
                pids_limit=limits.process_limit + 16,
                mem_limit=f"{memory_mb}m",
                memswap_limit=f"{memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                environment={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                working_dir="/tmp",
                labels={POOL_LABEL: "1", OWNER_LABEL: owner_tag()},
                runtime=self.runtime,
            )
            container.start()
        except DockerException as exc:
            raise SandboxError(f"could not start a sandbox container: {exc}") from exc
        return container


def _looks_healthy(run: HarnessRun) -> bool:
    return not run.timed_out and run.exit_code == 0 and b'"clean_after": true' in run.stdout[-200:]


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except DockerException:
        logger.warning("could not remove sandbox container %s", container.id, exc_info=True)


def sweep_orphans(client: Any) -> int:
    """Remove sandbox containers whose owning process on this host is gone; return how many."""
    host = socket.gethostname()
    removed = 0
    for container in client.containers.list(all=True, filters={"label": POOL_LABEL}):
        owner_host, _, pid = container.labels.get(OWNER_LABEL, ":").partition(":")
        if owner_host == host and pid.isdigit() and not _process_alive(int(pid)):
            _remove(container)
            removed += 1
    if removed:
        logger.info("swept %d orphaned sandbox containers", removed)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Session:
    """The attached stdin/stdout of a container's serving harness."""

    def __init__(self, raw: socket.socket) -> None:
        self.raw = raw
        self.buffer = bytearray()

    @classmethod
    def attach(cls, api: Any, container_id: str) -> _Session:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        sock = api.attach_socket(container_id, params=params)
        return cls(sock._sock)

    def run(self, request: bytes, deadline_s: float) -> HarnessRun:
        """Send one request; read records until the closing one, EOF, or the deadline."""
        started = time.monotonic()
        sender = threading.Thread(target=self._send, args=(request,), daemon=True)
        sender.start()
        streams: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        outcome = self._read_until_done(streams, started + deadline_s)
        wall_s = time.monotonic() - started
        exit_code = 0 if outcome == "done" else None
        return HarnessRun(
            bytes(streams[1]), bytes(streams[2]), exit_code, outcome == "timeout", wall_s
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.raw.close()

    def _send(self, request: bytes) -> None:
        with contextlib.suppress(OSError):  # the harness is gone; the reader reports it
            self.raw.sendall(request)

    def _read_until_done(self, streams: dict[int, bytearray], deadline: float) -> str:
        while not streams[1].endswith(b"\n") or b'"done": true' not in _last_line(streams[1]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            self.raw.settimeout(remaining)
            try:
                chunk = self.raw.recv(READ_CHUNK_BYTES)
            except TimeoutError:
                continue
            except OSError:
                return "eof"
            if not chunk:
                return "eof"
            self.buffer.extend(chunk)
            _take_frames(self.buffer, streams)
        return "done"


def _last_line(data: bytearray) -> bytes:
    return bytes(data[data.rfind(b"\n", 0, len(data) - 1) + 1 :])


def _take_frames(buffer: bytearray, streams: dict[int, bytearray]) -> None:
    while len(buffer) >= 8:
        stream, size = struct.unpack(">BxxxL", bytes(buffer[:8]))
        if len(buffer) < 8 + size:
            return
        streams.setdefault(stream, bytearray()).extend(buffer[8 : 8 + size])
        del buffer[: 8 + size]
