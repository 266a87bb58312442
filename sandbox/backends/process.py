"""The process backend, for hosts without Docker: bubblewrap plus rlimits, clearly weaker.

What it lacks next to Docker: no memory cgroup (RLIMIT_AS per case bounds address space, not
RSS), and the harness runs under the program's uid. It is the pid namespace's init
(`--as-pid-1`), so the program cannot kill it, and the only process holding the result pipe: it
is non-dumpable, so the program cannot open its file descriptors or memory or trace it. Each
attempt gets a fresh bubblewrap with no network, private pid and IPC namespaces (so no SysV or
POSIX IPC object outlives it) and a private tmpfs /tmp, under one uid per slot so concurrent
attempts do not share RLIMIT_NPROC.
See docs/sandbox.md.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil

from sandbox.backends.base import HARNESS_SOURCE, HarnessRun, SandboxError
from sandbox.backends.capped import run_capped
from sandbox.judge import HarnessOptions
from sandbox.limits import MB, Limits

logger = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"
FIRST_SLOT_UID = 60001


def bwrap_available() -> bool:
    """True when bubblewrap and the system Python are installed."""
    return shutil.which("bwrap") is not None and os.path.exists(SYSTEM_PYTHON)


class ProcessBackend:
    """Runs each attempt in a fresh bubblewrap sandbox on the host."""

    name = "process"

    def __init__(self, *, concurrency: int = 4) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None or not os.path.exists(SYSTEM_PYTHON):
            raise SandboxError("the process backend needs bubblewrap and /usr/bin/python3")
        self.bwrap = bwrap
        self._uids: queue.Queue[int] = queue.Queue()
        for slot in range(concurrency):
            self._uids.put(FIRST_SLOT_UID + slot)
        logger.warning(
            "process sandbox backend: bubblewrap + rlimits, weaker than Docker "
            "(no memory cgroup; the program shares the harness's uid)"
        )

    def options(self) -> HarnessOptions:
        """The harness cannot change uid here; /tmp is the sandbox's own tmpfs."""
        return HarnessOptions(
            drop_uid=None,
            scrub_dirs=("/tmp",),
            workdir="/tmp",
            kill_scope="namespace",
            check_ipc=True,
        )

    def execute(self, request: bytes, limits: Limits, n_cases: int) -> HarnessRun:
        """Run the harness in a fresh bubblewrap; kill it all at the attempt's deadline."""
        uid = self._uids.get()
        cap = limits.harness_output_cap_bytes(n_cases)
        try:
            return run_capped(
                self._command(uid, limits), request, limits.attempt_wall_limit_s(n_cases), cap
            )
        except OSError as exc:
            raise SandboxError(f"could not start bubblewrap: {exc}") from exc
        finally:
            self._uids.put(uid)

    def close(self) -> None:
        """Nothing outlives an attempt here."""

    def _command(self, uid: int, limits: Limits) -> list[str]:
        become = []
        if os.getuid() == 0:
            become = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        return [
            *become,
            "prlimit",
            f"--nproc={limits.process_limit}",
            "--",
            self.bwrap,
            "--unshare-all",
            # The harness is the namespace's pid 1: no dumpable reaper of bubblewrap's shares
            # the result pipe (a program of the same uid could write forged records into it
            # through /proc/1/fd), and signals from inside the namespace cannot kill it.
            "--as-pid-1",
            "--die-with-parent",
            "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(limits.tmpfs_mb * MB),
            "--tmpfs", "/tmp",
            "--chdir", "/tmp",
            "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "LANG", "C.UTF-8",
            "--cap-drop", "ALL",
            "--remount-ro", "/",
            SYSTEM_PYTHON, "-I", "-c", HARNESS_SOURCE,
        ]  # fmt: skip
