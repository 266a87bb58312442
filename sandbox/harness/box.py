"""The Docker attempt's box: what an attempt sees is fresh, whatever ran before it.

A warm container serves many attempts, and what the kernel keeps outlives any clean-up: a
tmpfs's next inode number, the next pid, the container's cgroup counters. So the serving
harness (root, with CAP_SYS_ADMIN for this alone) forks the box's init into a pid namespace of
its own, and the init, in a mount namespace of its own, shows the program a `/proc` of the
box's own processes only and no cgroup files. Before each attempt it makes the rest new: a
fresh tmpfs on /tmp and /dev/shm (a new superblock, so a new inode counter) and the pid counter
set back to where a new pid namespace starts (every process of the last attempt is dead and
reaped by then). It does so right after the last attempt's closing record, while the host
reads the results. The network namespace stays the container's (no network, loopback only):
the program may open no socket but AF_UNIX (`syscalls.py`), so no TCP state of it can outlive
it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.cleanup import IpcTables
from sandbox.harness.pinned import _exit
from sandbox.harness.syscalls import _libc
from sandbox.protocol import SHM_MB

# bundle: strip-end


CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REC, MS_PRIVATE, MNT_DETACH = 0x4000, 0x40000, 0x2
SCRATCH_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC
BOX_FAILED_EXIT = 4


def run_in_box(serve: Callable[[Box], int]) -> int:
    """Fork the box's init into a fresh pid namespace, let it `serve`, return its exit code."""
    _unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        _end_child(lambda: serve(Box.enter()))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


class Box:
    """The init's own handles, opened while a whole /proc of its pid namespace showed them."""

    def __init__(self, last_pid_fd: int, ipc: IpcTables) -> None:
        self.last_pid_fd = last_pid_fd
        self.ipc = ipc

    @classmethod
    def enter(cls) -> Box:
        """In the init: its mount namespace, its /proc, no cgroup files."""
        _unshare(CLONE_NEWNS)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("proc", "/proc", "proc", SCRATCH_FLAGS)
        last_pid = os.open("/proc/sys/kernel/ns_last_pid", os.O_WRONLY | os.O_CLOEXEC)
        ipc = IpcTables.open()
        _umount("/proc")  # the handles keep what they need of it
        try:  # only the box's processes, only the program's own to it, and no kernel tables
            _mount("proc", "/proc", "proc", SCRATCH_FLAGS, "hidepid=invisible,subset=pid")
        except OSError:  # a kernel older than 5.8: no /proc at all rather than the container's
            _mount("tmpfs", "/proc", "tmpfs", SCRATCH_FLAGS | MS_RDONLY, "size=4k,mode=555")
        if os.path.isdir("/sys/fs/cgroup"):
            _mount("tmpfs", "/sys/fs/cgroup", "tmpfs", SCRATCH_FLAGS | MS_RDONLY, "size=4k")
        os.chdir("/")
        return cls(last_pid, ipc)

    def refresh(self, tmpfs_mb: int) -> None:
        """Make new what the next attempt sees: its scratch file systems and pid counter."""
        for path, size_mb in (("/tmp", tmpfs_mb), ("/dev/shm", SHM_MB)):
            _umount(path)  # the last attempt's (or Docker's): nothing of it shows again
            _mount("tmpfs", path, "tmpfs", SCRATCH_FLAGS, f"size={size_mb}m,mode=1777")
        os.pwrite(self.last_pid_fd, b"1", 0)  # the next process is pid 2, as in a new namespace


def _end_child(body: Callable[[], int]) -> None:
    """Run a forked child's part and leave: nothing it raises may climb into the parent's
    code it was forked from."""
    try:
        code = body()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(2, f"the attempt's box failed: {exc!r}\n".encode()[:2000])
        code = BOX_FAILED_EXIT
    _exit(code)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def _umount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"umount {target}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def raw(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if _libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data or None)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")
