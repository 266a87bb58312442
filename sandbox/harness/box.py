"""The Docker attempt's box: fresh pid, mount and network namespaces for every attempt.

A warm container serves many attempts, and what the kernel keeps per namespace outlives any
clean-up: a tmpfs's next inode number, the next pid, TCP connections in TIME_WAIT, the
container's cgroup counters. So the serving harness (root, with CAP_SYS_ADMIN and
CAP_NET_ADMIN for this alone) builds a box per attempt: it forks, the child unshares mount,
network and pid namespaces, and its child (the new pid namespace's init) mounts a fresh tmpfs
on /tmp and /dev/shm, a /proc that shows only the box's own processes, an empty read-only
tmpfs over /sys/fs/cgroup, brings the fresh loopback up, and judges one attempt. When it
exits, the kernel kills whatever of the program is left, and the namespaces and their mounts
go with the last process in them. The next box is built as soon as an attempt ends, so its
cost overlaps the host's reading of the results.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Callable

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import _exit
from sandbox.protocol import SHM_MB

# bundle: strip-end


CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REC, MS_PRIVATE = 0x4000, 0x40000
SCRATCH_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC
BOX_DONE_EXIT, BOX_NO_MORE_EXIT, BOX_FAILED_EXIT = 0, 3, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
# The container's CPU counter: cgroup v1's cpuacct (nanoseconds), or v2's cpu.stat.
CGROUP_CPU_FILES = (
    "/sys/fs/cgroup/cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage",
    "/sys/fs/cgroup/cpu.stat",
)


class CpuMeter:
    """The container's cgroup CPU counter, opened before the box hides it from the program.

    It counts every process of the container, those the kernel reaps on its own included
    (their CPU never reaches anybody's RUSAGE_CHILDREN). While a case runs, the only other
    process of the container that works is the box's init, which measures itself.
    """

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    @classmethod
    def open(cls) -> CpuMeter:
        for path in CGROUP_CPU_FILES:
            with contextlib.suppress(OSError):
                meter = cls(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
                if meter.read_s() is not None:
                    return meter
                os.close(meter.fd or -1)
        return cls(None)

    def read_s(self) -> float | None:
        """CPU seconds the container has used, or None where no counter could be read."""
        if self.fd is None:
            return None
        try:
            text = os.pread(self.fd, 4096, 0).decode()
        except OSError:
            return None
        if text.strip().isdigit():
            return int(text) / 1e9
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdigit():
                return int(value) / 1e6
        return None


def run_box(tmpfs_mb: int, attempt: Callable[[CpuMeter], int]) -> int:
    """Build one box, run `attempt` as its init, and return how the box ended (`attempt`'s
    own exit code, or BOX_FAILED_EXIT)."""
    pid = os.fork()
    if pid == 0:
        _end_child(lambda: _builder(tmpfs_mb, attempt))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _builder(tmpfs_mb: int, attempt: Callable[[CpuMeter], int]) -> int:
    """Unshare, then wait for the box's init (the new pid namespace's first process) and end
    as it did."""
    _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)
    init = os.fork()
    if init == 0:
        _end_child(lambda: _init(tmpfs_mb, attempt))
    _, status = os.waitpid(init, 0)
    return os.waitstatus_to_exitcode(status)


def _init(tmpfs_mb: int, attempt: Callable[[CpuMeter], int]) -> int:
    meter = CpuMeter.open()
    furnish(tmpfs_mb)
    return attempt(meter)


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


def furnish(tmpfs_mb: int) -> None:
    """The box's own file system view and loopback (in its mount and network namespaces)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/tmp", "tmpfs", SCRATCH_FLAGS, f"size={tmpfs_mb}m,mode=1777")
    _mount("tmpfs", "/dev/shm", "tmpfs", SCRATCH_FLAGS, f"size={SHM_MB}m,mode=1777")
    try:  # only the box's processes, only the program's own to it, and no kernel tables
        _mount("proc", "/proc", "proc", SCRATCH_FLAGS, "hidepid=invisible,subset=pid")
    except OSError:  # a kernel older than 5.8: no /proc at all rather than the container's
        _mount("tmpfs", "/proc", "tmpfs", SCRATCH_FLAGS | MS_RDONLY, "size=4k,mode=555")
    if os.path.isdir("/sys/fs/cgroup"):
        _mount("tmpfs", "/sys/fs/cgroup", "tmpfs", SCRATCH_FLAGS | MS_RDONLY, "size=4k,mode=555")
    os.chdir("/")
    _loopback_up()


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def raw(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    if _libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data or None)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")
