"""What the program leaves behind: every process of it killed after each case, the scratch
dirs emptied within a budget after each attempt, and the box proven clean (scratch dirs, IPC
objects) or left for the backend to recycle. (The Docker box is fresh per attempt: there, only
the IPC check applies.)
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from collections.abc import Callable

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import _exit, _len, _listdir
from sandbox.harness.privileges import drop_privileges
from sandbox.protocol import Header

# bundle: strip-end


# The end-of-attempt clean-up's budget: past it, the box is not proven clean and is recycled.
SCRUB_WAIT_S = 5.0
SCRUB_MAX_ENTRIES = 100_000
SCRUB_MAX_DEPTH = 10_000


def kill_program_processes(header: Header, group: int | None = None) -> None:
    """SIGKILL what the program may have left, in the scope the backend names.

    `namespace`: kill(-1), exact only from the init of a private pid namespace (bubblewrap's,
    or the Docker box's). `group`: the case's own process group only; anything that left it
    survives (unsandboxed baselines, where kill(-1) would kill the host's processes).
    """
    scope = header.kill_scope
    if scope == "namespace" and _in_private_pid_namespace():
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    elif group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _in_private_pid_namespace() -> bool:
    # In bubblewrap's fresh pid namespace the harness is pid 1 itself (`--as-pid-1`), in the
    # Docker box its init is; on a host pid 1 is the init system and never runs this harness,
    # and no other process has so small a pid, so kill(-1) can never reach the host's processes.
    return os.getpid() == 1 and os.getppid() == 0


def scrub_scratch_dirs(header: Header) -> bool:
    """Empty the sandbox's scratch dirs (the backend names them); True when they were empty.

    Whatever the program left (a tree deeper than any path, directories it made unreadable,
    more entries than we will walk), this returns: the removal runs in a child under the
    program's own uid (so the owner's rights suffice), walks by directory descriptors without
    recursion, and stops at a budget of entries and seconds. What it could not remove makes
    the box unproven (`proven_clean`), and the backend recycles it.
    """
    reclaim_dirs(header)
    dirty = [root for root in header.scrub_dirs if os.path.isdir(root) and _listdir(root)]
    if not dirty:
        return True
    pid = os.fork()
    if pid == 0:
        try:
            drop_privileges(header)
            for root in dirty:
                _empty_dir(root)
        finally:
            _exit(0)
    deadline = time.monotonic() + SCRUB_WAIT_S
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)  # past its budget: what is left makes the box unproven
    os.waitpid(pid, 0)
    return False


def reclaim_dirs(header: Header) -> None:
    """Give the box's own directories back their owner's rights, where the program shares our
    uid (bubblewrap) and may have locked them: a case's `chdir` failing there would look
    like our own setup failing."""
    for path in {header.workdir, *header.scrub_dirs}:
        with contextlib.suppress(OSError):
            status = os.stat(path)
            if status.st_uid == os.getuid():
                os.chmod(path, (status.st_mode & 0o7777) | 0o700)


def _empty_dir(root: str) -> None:
    """Remove everything under `root`: iterative, by directory descriptors (no path grows with
    the depth), each directory read once per visit, giving up past a budget of entries."""
    budget = [SCRUB_MAX_ENTRIES]
    # Each frame: a directory's descriptor, its name in the frame below, subdirectories to visit.
    stack: list[tuple[int, str, list[str]]] = []
    stack.append((os.open(root, os.O_RDONLY | os.O_DIRECTORY), "", []))
    try:
        while stack and budget[0] > 0 and len(stack) <= SCRUB_MAX_DEPTH:
            fd, name, pending = stack[-1]
            if not pending:
                pending.extend(_unlink_files(fd, budget))
            if not pending:
                os.close(stack.pop()[0])
                if stack:
                    os.rmdir(name, dir_fd=stack[-1][0])
                continue
            child = pending.pop()
            with contextlib.suppress(OSError):  # the owner may make a mode-000 dir readable
                os.chmod(child, 0o700, dir_fd=fd, follow_symlinks=False)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
            stack.append((os.open(child, flags, dir_fd=fd), child, []))
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _unlink_files(fd: int, budget: list[int]) -> list[str]:
    """Unlink every entry of `fd` that is no directory; return the names of those that are."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            budget[0] -= 1
            if budget[0] <= 0:
                raise OSError("the scratch dir holds more entries than the clean-up walks")
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    return subdirs


class IpcTables:
    """The IPC namespace's SysV tables, opened while /proc shows them (the Docker box's /proc
    does not) and read again whenever asked; and its POSIX message queues."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds

    @classmethod
    def open(cls) -> IpcTables:
        fds = []
        for table in ("shm", "sem", "msg"):
            with contextlib.suppress(OSError):
                fds.append(os.open(f"/proc/sysvipc/{table}", os.O_RDONLY | os.O_CLOEXEC))
        return cls(fds)

    def empty(self) -> bool:
        """No SysV shared memory, semaphore or message queue, and no POSIX message queue."""
        for fd in self.fds:
            if _len(os.pread(fd, 1 << 16, 0).splitlines()) > 1:  # a header, then one per object
                return False
        return not (os.path.isdir("/dev/mqueue") and os.listdir("/dev/mqueue"))

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def ipc_is_empty() -> bool:
    """No IPC object of any kind is left in our IPC namespace."""
    tables = IpcTables.open()
    try:
        return tables.empty()
    finally:
        tables.close()


def reap_everything(
    deadline_s: float, on_reaped: Callable[[int, int, resource.struct_rusage], None] | None = None
) -> bool:
    """Reap every child we have (a subreaper's or an init's orphans included) until none is
    left, telling `on_reaped` of each; False when one outlived the deadline (stuck in the
    kernel, say)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            time.sleep(0.001)
        elif on_reaped is not None:
            on_reaped(pid, status, usage)
    return False


def proven_clean(header: Header) -> bool:
    """After the attempt's scrub: scratch dirs empty and no IPC object left."""
    scratch = all(not os.listdir(d) for d in header.scrub_dirs if os.path.isdir(d))
    return scratch and (not header.check_ipc or ipc_is_empty())
