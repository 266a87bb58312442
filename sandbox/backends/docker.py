"""The Docker backend: a warm pool of hardened containers, each serving attempts in turn.

A container's main process is the harness in `--serve` mode: the pool keeps its attached
stdin/stdout open and sends one request per attempt, so an attempt costs no `docker exec`
(no runc exec, no interpreter start) once the container is warm.

Each container: no network, read-only root, no capabilities but those of the harness
(`HARNESS_CAPABILITIES`: dropping to the program's uid, killing what it leaves, and making
each attempt's box new, see `sandbox/harness/box.py`),
no-new-privileges, pids/memory/CPU limits, an init that reaps zombies, and labels naming the
process that owns it, so a later start sweeps the orphans of a crash. SysV IPC and POSIX
message queues are switched off by namespaced sysctls (so no attempt can leave an answer or a
memory hog in them), the log driver is `none` (the attached stream never reaches the host's
disk), and a container is recycled after `max_uses` attempts or whenever the harness cannot
prove it clean. A Docker fault (a container that vanished, an API error, a
harness that never finished) is the sandbox's: the attempt is re-run once in a fresh container,
then reported as a sandbox error; no Docker exception escapes `execute`.
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
from docker.types import LogConfig

from sandbox.backends.base import HARNESS_SOURCE, HarnessRun, SandboxError
from sandbox.image import DEFAULT_IMAGE
from sandbox.judge import HarnessOptions
from sandbox.limits import Limits
from sandbox.protocol import SHM_MB

logger = logging.getLogger(__name__)

POOL_LABEL = "retrospect.sandbox"
OWNER_LABEL = "retrospect.owner"
PROGRAM_UID = 65534
HARNESS_HEADROOM_MB = 128
READ_CHUNK_BYTES = 1 << 16
ATTEMPTS_PER_RUN = 2  # the attempt, and one re-run in a fresh container after a Docker fault
# Beyond the attempt's own wall limit, what the host waits for the harness's closing record
# (the box made new, the request's frames written, the records read back).
HOST_SLACK_S = 5.0
HARNESS_COMMAND = ("python3", "-I", "-c", HARNESS_SOURCE, "--serve")
# The harness's, never the program's (each case drops to PROGRAM_UID and installs a seccomp
# filter against namespaces and mounts): dropping to that uid, killing what the program
# leaves, and making the box new for each attempt (its namespaces, mounts, pid counter).
HARNESS_CAPABILITIES = ("SETUID", "SETGID", "KILL", "SYS_ADMIN")
# Namespaced sysctls that leave the program no SysV shared memory, semaphores or message
# queues, and no POSIX message queue (the program runs without CAP_SYS_RESOURCE).
IPC_OFF_SYSCTLS = {
    "kernel.shmall": "0",
    "kernel.shmmax": "0",
    "kernel.msgmni": "0",
    "kernel.sem": "0 0 0 0",
    "fs.mqueue.queues_max": "0",
}


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
        host_slack_s: float = HOST_SLACK_S,
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
        self.host_slack_s = host_slack_s
        self._slots = threading.BoundedSemaphore(concurrency)
        self._idle: list[_Slot] = []
        self._lock = threading.Lock()
        self._closed = False
        self.security_options = security_options(self.client)
        sweep_orphans(self.client)

    def options(self) -> HarnessOptions:
        """The harness runs as root in the container and drops to the program's uid per case."""
        return HarnessOptions(
            drop_uid=PROGRAM_UID,
            scrub_dirs=(),  # each attempt's box mounts /tmp and /dev/shm fresh
            workdir="/tmp",
            kill_scope="namespace",  # the box's init kills all else in its pid namespace
            check_ipc=True,
        )

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Run one attempt in a warm container; on a Docker fault, once more in a fresh one."""
        problem = "no attempt ran"
        for _ in range(ATTEMPTS_PER_RUN):
            try:
                run = self._execute_once(request, limits, n_cases)
            except (SandboxError, DockerException, OSError) as exc:
                problem = str(exc)
                logger.warning("sandbox attempt failed, %s: %s", "retrying", exc)
                continue
            if _finished(run):
                return run
            said = run.stderr[-500:].decode("utf-8", "replace").strip()
            problem = "the harness did not finish" + (f": {said}" if said else "")
        raise SandboxError(f"the sandbox failed twice: {problem}")

    def _execute_once(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        with self._slots:
            slot = self._acquire(limits)
            healthy = False
            try:
                cap = limits.harness_output_cap_bytes(n_cases)
                deadline_s = limits.attempt_wall_limit_s(n_cases) + self.host_slack_s
                run = slot.session.run(request, deadline_s, cap)
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
                [*HARNESS_COMMAND, "--box-tmpfs-mb", str(limits.tmpfs_mb)],
                stdin_open=True,
                init=True,
                user="0:0",  # the harness; each case drops to PROGRAM_UID
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777"},
                shm_size=f"{SHM_MB}m",
                cap_drop=["ALL"],
                cap_add=list(HARNESS_CAPABILITIES),
                security_opt=self.security_options,
                pids_limit=limits.process_limit + 16,
                mem_limit=f"{memory_mb}m",
                memswap_limit=f"{memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                environment={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                working_dir="/tmp",
                labels={POOL_LABEL: "1", OWNER_LABEL: owner_tag()},
                runtime=self.runtime,
                sysctls=IPC_OFF_SYSCTLS,
                log_config=LogConfig(type=LogConfig.types.NONE),
            )
            container.start()
        except DockerException as exc:
            raise SandboxError(f"could not start a sandbox container: {exc}") from exc
        return container


def security_options(client: Any) -> list[str]:
    """no-new-privileges always; where the daemon confines containers with AppArmor, its
    docker-default profile forbids every mount, so the box's builder could not build: the
    program's own seccomp filter denies mounts and namespaces instead."""
    options = ["no-new-privileges"]
    try:
        daemon = client.info().get("SecurityOptions") or []
    except DockerException:
        daemon = []
    if any("name=apparmor" in str(option) for option in daemon):
        options.append("apparmor=unconfined")
    return options


def _finished(run: HarnessRun) -> bool:
    return not run.timed_out and run.exit_code == 0


def _looks_healthy(run: HarnessRun) -> bool:
    return _finished(run) and b'"clean_after": true' in run.stdout[-200:]


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except (DockerException, OSError):  # requests' errors are OSErrors
        logger.warning("could not remove sandbox container %s", container.id, exc_info=True)


def sweep_orphans(client: Any) -> int:
    """Remove sandbox containers whose owning process on this host is gone; return how many.

    Other clients of the same daemon start and remove containers meanwhile, so the listing is
    sparse (no inspect per container, which fails on one removed since) and no Docker error
    stops the sweep or the backend's start.
    """
    host = socket.gethostname()
    removed = 0
    try:
        listed = client.containers.list(all=True, filters={"label": POOL_LABEL}, sparse=True)
    except DockerException:
        logger.warning("could not list sandbox containers to sweep", exc_info=True)
        return 0
    for container in listed:
        labels = container.attrs.get("Labels") or {}
        owner_host, _, pid = str(labels.get(OWNER_LABEL, ":")).partition(":")
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

    def __init__(self, stream: Any) -> None:
        self.stream = stream  # docker-py's file wrapper: closed with its socket, or it warns
        self.raw: socket.socket = stream._sock
        self.buffer = bytearray()

    @classmethod
    def attach(cls, api: Any, container_id: str) -> _Session:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        return cls(api.attach_socket(container_id, params=params))

    def run(self, request: bytes, deadline_s: float, cap_bytes: int) -> HarnessRun:
        """Send one request; read records until the closing one, EOF, the deadline, or more
        output than the harness can honestly write (`cap_bytes`)."""
        started = time.monotonic()
        sender = threading.Thread(target=self._send, args=(request,), daemon=True)
        sender.start()
        streams: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        outcome = self._read_until_done(streams, started + deadline_s, cap_bytes)
        wall_s = time.monotonic() - started
        exit_code = 0 if outcome == "done" else None
        return HarnessRun(
            bytes(streams[1]), bytes(streams[2]), exit_code, outcome == "timeout", wall_s
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
            self.raw.close()

    def _send(self, request: bytes) -> None:
        with contextlib.suppress(OSError):  # the harness is gone; the reader reports it
            self.raw.sendall(request)

    def _read_until_done(
        self, streams: dict[int, bytearray], deadline: float, cap_bytes: int
    ) -> str:
        while not streams[1].endswith(b"\n") or b'"done": true' not in _last_line(streams[1]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            if len(streams[1]) + len(streams.get(2, b"")) > cap_bytes:
                return "overflow"
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
