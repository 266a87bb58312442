"""The program's seccomp filter, run by a small classic-BPF interpreter against the rule it
implements, on generated syscalls of both machines."""

from __future__ import annotations

import errno
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.harness.syscalls import (
    AF_UNIX,
    CLONE_NAMESPACE_FLAGS,
    SIGCHLD,
    SYSCALL_TABLES,
    filter_program,
)

ALLOW = 0x7FFF0000
ERRNO = 0x00050000
MACHINES = sorted(SYSCALL_TABLES)


def run_bpf(program: list[tuple[int, int, int, int]], data: bytes) -> int:
    """Execute the few classic-BPF instructions the filter uses; return its verdict."""
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            accumulator = struct.unpack_from("=I", data, k)[0]
        elif code == 0x05:  # ja
            pc += k
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {
                0x15: accumulator == k,
                0x35: accumulator >= k,
                0x45: bool(accumulator & k),
            }[code]
            pc += jt if taken else jf
        elif code == 0x06:  # ret
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


def seccomp_data(nr: int, arch: int, args: tuple[int, ...]) -> bytes:
    return struct.pack("=iIQ6Q", nr, arch, 0, *args)


def reference(machine: str, nr: int, arch: int, args: tuple[int, ...]) -> int:
    """The rule, said plainly."""
    table = SYSCALL_TABLES[machine]
    if arch != table.arch or (table.foreign_from is not None and nr >= table.foreign_from):
        return ERRNO | errno.EPERM
    if nr in table.denied.values():
        return ERRNO | errno.EPERM
    if nr == table.clone3:
        return ERRNO | errno.ENOSYS
    if nr == table.clone and args[0] & 0xFFFFFFFF & CLONE_NAMESPACE_FLAGS:
        return ERRNO | errno.EPERM
    if nr == table.rt_sigaction and args[0] & 0xFFFFFFFF == SIGCHLD and args[1] != 0:
        return ERRNO | errno.EPERM
    if nr == table.socket and args[0] & 0xFFFFFFFF != AF_UNIX:
        return ERRNO | errno.EPERM
    return ALLOW


def interesting_numbers(machine: str) -> st.SearchStrategy[int]:
    table = SYSCALL_TABLES[machine]
    named = [table.clone, table.clone3, table.rt_sigaction, table.socket]
    named += table.denied.values()
    return st.one_of(st.sampled_from(named), st.integers(0, 500), st.integers(0, 2**31 - 1))


@st.composite
def syscalls(draw: st.DrawFn) -> tuple[str, int, int, tuple[int, ...]]:
    machine = draw(st.sampled_from(MACHINES))
    arch = draw(st.sampled_from([SYSCALL_TABLES[m].arch for m in MACHINES] + [0x40000003]))
    nr = draw(interesting_numbers(machine))
    flags = st.one_of(
        st.just(0),
        st.just(SIGCHLD),
        st.sampled_from([AF_UNIX, 2, 10, 16, 17]),  # unix, inet, inet6, netlink, packet
        st.sampled_from([CLONE_NAMESPACE_FLAGS, 0x10000000 | 17, 0x01200011]),
        st.integers(0, 2**64 - 1),
    )
    args = tuple(draw(flags) for _ in range(6))
    return machine, nr, arch, args


@settings(max_examples=400, derandomize=True)
@given(syscalls())
def test_the_filter_decides_as_the_rule_says(call: tuple[str, int, int, tuple[int, ...]]) -> None:
    machine, nr, arch, args = call
    verdict = run_bpf(filter_program(machine), seccomp_data(nr, arch, args))
    assert verdict == reference(machine, nr, arch, args)


def test_both_machines_deny_the_same_syscalls() -> None:
    names = [set(table.denied) for table in SYSCALL_TABLES.values()]
    assert all(n == names[0] for n in names)
    for table in SYSCALL_TABLES.values():  # a typo would make two names one number
        assert len(set(table.denied.values())) == len(table.denied)


def test_reading_sigchld_stays_allowed_and_every_other_signal_too() -> None:
    for machine, table in SYSCALL_TABLES.items():
        program = filter_program(machine)
        query = seccomp_data(table.rt_sigaction, table.arch, (SIGCHLD, 0, 1, 8, 0, 0))
        other = seccomp_data(table.rt_sigaction, table.arch, (10, 1, 0, 8, 0, 0))
        assert run_bpf(program, query) == ALLOW
        assert run_bpf(program, other) == ALLOW
