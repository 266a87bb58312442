"""The program's seccomp filter: no namespaces, no mounts, no kernel interfaces that the box's
init needed and the program never does, no socket but AF_UNIX, and no children the kernel
reaps on its own.

The Docker box is made new per attempt by the harness, which holds CAP_SYS_ADMIN for it;
Docker's seccomp profile then also opens `unshare`, `setns`, `mount`, namespace flags of
`clone` and the like to every process of the container. The program holds no capability, but
an unprivileged user namespace would give it one inside, and with it the kernel's whole
namespaced surface. So each case installs this filter after dropping to the program's uid and
before the program runs: those calls fail with EPERM, `clone3` with ENOSYS (its flags live in
memory a filter cannot read; the C library falls back to `clone`), and a syscall of any other
ABI than the native one (32-bit `int 0x80`, x32) fails too.

A socket of any family but AF_UNIX fails with EPERM: the box has no network, and without IP
sockets no TCP state (a connection in TIME_WAIT, a port held) can outlive an attempt in the
container's network namespace. Setting SIGCHLD's action fails with EPERM as well (reading it
still works): a child whose parent ignores SIGCHLD, or asked for SA_NOCLDWAIT, is reaped by
the kernel on its own and its CPU time reaches nobody's RUSAGE_CHILDREN, so it could burn CPU
past the time limit unseen. Every child of the program is then waited for, by the program or
by the harness (a subreaper, or the box's init), and charged to the case.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import NamedTuple

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import _len

# bundle: strip-end


class SyscallTable(NamedTuple):
    """One machine's syscall numbers for the filter."""

    arch: int  # AUDIT_ARCH_* of the native ABI
    clone: int
    clone3: int
    rt_sigaction: int
    socket: int
    denied: dict[str, int]  # syscall name -> number
    foreign_from: int | None  # the lowest syscall number of a foreign ABI under the same arch


# Syscalls added since Linux 5.1 have one number on every machine.
CLONE3 = 435
UNIFIED_DENIED = {
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "quotactl_fd": 443,
}
SYSCALL_TABLES = {
    "x86_64": SyscallTable(
        0xC000003E,
        56,
        CLONE3,
        13,
        41,
        {
            **UNIFIED_DENIED,
            "unshare": 272,
            "setns": 308,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "bpf": 321,
            "perf_event_open": 298,
            "name_to_handle_at": 303,
            "open_by_handle_at": 304,
            "syslog": 103,
            "quotactl": 179,
            "lookup_dcookie": 212,
            "fanotify_init": 300,
            "sethostname": 170,
            "setdomainname": 171,
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
        },
        0x40000000,  # x32
    ),
    "aarch64": SyscallTable(
        0xC00000B7,
        220,
        CLONE3,
        134,
        198,
        {
            **UNIFIED_DENIED,
            "unshare": 97,
            "setns": 268,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "bpf": 280,
            "perf_event_open": 241,
            "name_to_handle_at": 264,
            "open_by_handle_at": 265,
            "syslog": 116,
            "quotactl": 60,
            "lookup_dcookie": 18,
            "fanotify_init": 262,
            "sethostname": 161,
            "setdomainname": 162,
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
        },
        None,
    ),
}
# Every CLONE_NEW* flag `clone` takes: mount, cgroup, UTS, IPC, user, pid, network.
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NAMESPACE_FLAGS |= 0x20000000 | 0x40000000

# struct seccomp_data: nr at 0, arch at 4, instruction pointer at 8, args from 16.
_NR, _ARCH, _ARG0_LOW, _ARG1_LOW, _ARG1_HIGH = 0, 4, 16, 24, 28
SIGCHLD, AF_UNIX = 17, 1  # the same numbers on both machines
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def filter_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions, for this machine's syscall numbers."""
    table = SYSCALL_TABLES[machine]
    # Instructions, their jumps naming labels, and the labels themselves (strings) in between.
    source: list[tuple[int, str, str, int] | str] = [
        (_LD_W_ABS, "", "", _ARCH),
        (_JEQ_K, "", "deny", table.arch),
        (_LD_W_ABS, "", "", _NR),
    ]
    if table.foreign_from is not None:
        source.append((_JGE_K, "deny", "", table.foreign_from))
    source += [(_JEQ_K, "deny", "", nr) for nr in table.denied.values()]
    source += [
        (_JEQ_K, "nosys", "", table.clone3),
        (_JEQ_K, "sigaction", "", table.rt_sigaction),
        (_JEQ_K, "socket", "", table.socket),
        (_JEQ_K, "", "allow", table.clone),
        (_LD_W_ABS, "", "", _ARG0_LOW),
        (_JSET_K, "deny", "allow", CLONE_NAMESPACE_FLAGS),
        "socket",  # only AF_UNIX: no IP, netlink or packet socket, loopback included
        (_LD_W_ABS, "", "", _ARG0_LOW),
        (_JEQ_K, "allow", "deny", AF_UNIX),
        "sigaction",  # setting SIGCHLD's action (not reading it) is denied
        (_LD_W_ABS, "", "", _ARG0_LOW),
        (_JEQ_K, "", "allow", SIGCHLD),
        (_LD_W_ABS, "", "", _ARG1_LOW),
        (_JEQ_K, "", "deny", 0),
        (_LD_W_ABS, "", "", _ARG1_HIGH),
        (_JEQ_K, "allow", "deny", 0),
        "allow",
        (_RET_K, "", "", _ALLOW),
        "deny",
        (_RET_K, "", "", _ERRNO | errno.EPERM),
        "nosys",
        (_RET_K, "", "", _ERRNO | errno.ENOSYS),
    ]
    return _assemble(source)


def _assemble(
    source: list[tuple[int, str, str, int] | str],
) -> list[tuple[int, int, int, int]]:
    """Resolve label names into the forward offsets BPF jumps count."""
    at: dict[str, int] = {}
    instructions: list[tuple[int, str, str, int]] = []
    for item in source:
        if isinstance(item, str):  # before any program runs: the builtin is still ours
            at[item] = _len(instructions)
        else:
            instructions.append(item)

    def offset(index: int, label: str) -> int:
        return at[label] - index - 1 if label else 0

    return [
        (code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(instructions)
    ]


def _packed_filter(machine: str) -> bytes | None:
    """The filter in the kernel's `struct sock_filter` layout, or None on an unknown machine."""
    if machine not in SYSCALL_TABLES:
        return None
    return b"".join(struct.pack("=HBBI", *ins) for ins in filter_program(machine))


# Packed once when the harness starts, so that each case only installs it.
PROGRAM_FILTER = _packed_filter(os.uname().machine)
_libc = ctypes.CDLL(None, use_errno=True)


def deny_namespaces() -> None:
    """Install the filter on this process (and all it starts); refuse on an unknown machine."""
    if PROGRAM_FILTER is None:
        raise OSError(errno.ENOSYS, f"no syscall table for {os.uname().machine}: refusing")
    buffer = ctypes.create_string_buffer(PROGRAM_FILTER, _len(PROGRAM_FILTER))
    fprog = struct.pack("=HxxxxxxQ", _len(PROGRAM_FILTER) // 8, ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog, _len(fprog))
    for option, value in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_SECCOMP, SECCOMP_MODE_FILTER)):
        argument = ctypes.addressof(fprog_buffer) if option == PR_SET_SECCOMP else 0
        if _libc.prctl(option, value, ctypes.c_void_p(argument), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({option}) failed")
