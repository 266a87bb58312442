"""Hostile programs through the real backends: each is contained, judged, and the next attempt
is judged correctly."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import Limits, Problem, Sandbox, Verdict
from sandbox.backends.capped import run_capped
from tests.integration.sandbox.hostile_programs import CORPUS, Hostile

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

TIME_LIMIT_S = 1.0
MEMORY_LIMIT_MB = 64
CANARY = Problem.model_validate(
    {
        "title": "sum",
        "statement": "print a+b",
        "tests": {"kind": "stdio", "public": [{"input": "2 3\n", "output": "5"}]},
    }
)
CANARY_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"


def hostile_problem(hostile: Hostile, values: dict[str, Any]) -> Problem:
    """The test the attack tries to pass."""
    tests: dict[str, Any]
    if hostile.kind == "stdio":
        output = hostile.expected_output.format(**values)
        tests = {"kind": "stdio", "public": [{"input": hostile.stdin, "output": output}]}
    elif hostile.kind == "assert":
        code = hostile.test_code.format(**values)
        tests = {"kind": "assert", "entry_point": "f", "public": [{"code": code}]}
    else:
        tests = {"kind": "functional", "entry_point": "f", "public": [{"args": [1], "expected": 2}]}
    tests["compare"] = {"mode": hostile.compare}
    return Problem.model_validate(
        {
            "title": hostile.name,
            "statement": hostile.attack,
            "time_limit_s": TIME_LIMIT_S,
            "memory_limit_mb": MEMORY_LIMIT_MB,
            "tests": tests,
        }
    )


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback listener on the host that no sandboxed program may reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture
def secret_file(tmp_path: Path) -> tuple[Path, str]:
    secret = secrets.token_hex(16)
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    return path, secret


def _backend_name(sandbox: Sandbox) -> str:
    return sandbox.backend.name


@pytest.mark.parametrize("hostile", CORPUS, ids=[h.name for h in CORPUS])
def test_hostile_program_is_contained(
    any_sandbox: Sandbox,
    hostile: Hostile,
    listener: socket.socket,
    secret_file: tuple[Path, str],
) -> None:
    token = secrets.token_hex(16)
    values = {
        "port": listener.getsockname()[1],
        "secret_path": str(secret_file[0]),
        "secret": secret_file[1],
        "token": token,
        "token_digits": str(int(token, 16))[:15],
    }
    program = hostile.program.format(**values) if hostile.tags else hostile.program
    problem = hostile_problem(hostile, values)

    result = any_sandbox.run_suite(program, problem)

    expected = hostile.verdicts
    if _backend_name(any_sandbox) == "process" and hostile.process_verdicts is not None:
        expected = hostile.process_verdicts
    assert result.verdict in expected, result.model_dump()
    assert result.verdict is not Verdict.ACCEPTED
    limits = Limits.for_problem(problem)
    assert result.wall_s <= limits.attempt_wall_limit_s(1)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing inside a sandbox reached the host's loopback
    canary = any_sandbox.run_suite(CANARY_PROGRAM, CANARY)
    assert canary.verdict is Verdict.ACCEPTED, canary.model_dump()


PLANT = """
import os, subprocess
open('/tmp/marker', 'w').write('x')
try:
    open('/dev/shm/marker', 'w').write('x')
except OSError:
    pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time
        time.sleep(600)
    os._exit(0)
print('planted')
"""

CHECK = """
import os
left = [p for p in ('/tmp/marker', '/dev/shm/marker') if os.path.exists(p)]
mine = os.getuid()
others = []
for pid in os.listdir('/proc'):
    if not pid.isdigit() or int(pid) in (1, os.getpid(), os.getppid()):
        continue
    try:
        status = open(f'/proc/{pid}/status').read()
    except OSError:
        continue
    uid = [l.split()[1] for l in status.splitlines() if l.startswith('Uid:')]
    state = [l.split()[1] for l in status.splitlines() if l.startswith('State:')]
    if uid == [str(mine)] and state != ['Z']:
        others.append(pid)
print('clean' if not left and not others else f'dirty {left} {others}')
"""


def test_nothing_survives_into_the_next_attempt(any_sandbox: Sandbox) -> None:
    plant = Problem.model_validate(
        {
            "title": "plant",
            "statement": "leave state behind",
            "tests": {"kind": "stdio", "public": [{"input": "", "output": "planted"}]},
        }
    )
    check = plant.model_copy(
        update={
            "tests": plant.tests.model_copy(
                update={"public": [plant.tests.public[0].model_copy(update={"output": "clean"})]}
            )
        }
    )
    assert any_sandbox.run_suite(PLANT, plant).verdict is Verdict.ACCEPTED
    result = any_sandbox.run_suite(CHECK, check)
    assert result.verdict is Verdict.ACCEPTED, result.cases[0].actual_excerpt


def test_time_limit_is_judged_on_cpu_time(any_sandbox: Sandbox) -> None:
    """A program that sleeps a little (under the wall limit) is not charged for the sleep."""
    problem = Problem.model_validate(
        {
            "title": "nap",
            "statement": "sleep briefly",
            "time_limit_s": 1.0,
            "tests": {"kind": "stdio", "public": [{"input": "", "output": "ok"}]},
        }
    )
    started = time.monotonic()
    result = any_sandbox.run_suite("import time\ntime.sleep(1.5)\nprint('ok')\n", problem)
    assert time.monotonic() - started >= 1.5
    assert result.verdict is Verdict.ACCEPTED
    assert result.cases[0].time_s < 1.0


PLANT_IPC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(0x5EC, 300 * 1024 * 1024, 0o1666)
libc.msgget(0x5ED, 0o1666)
libc.semget(0x5EE, 1, 0o1666)
libc.mq_open(b"/retrospect-answer", os.O_CREAT | os.O_RDWR, 0o666, None)
print("planted")
"""

CHECK_IPC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
left = []
for table in ("shm", "msg", "sem"):
    try:
        rows = open(f"/proc/sysvipc/{table}").read().splitlines()[1:]
    except OSError:
        rows = []
    if rows:
        left.append(table)
if libc.shmget(0x5EC, 0, 0) >= 0:
    left.append("shm key")
if os.path.isdir("/dev/mqueue") and os.listdir("/dev/mqueue"):
    left.append("mqueue")
if libc.mq_open(b"/retrospect-answer", os.O_RDONLY) >= 0:
    left.append("mq name")
print("clean" if not left else "dirty " + " ".join(left))
"""


def _stdio_problem(output: str) -> Problem:
    return Problem.model_validate(
        {
            "title": "ipc",
            "statement": "leave nothing in IPC",
            "tests": {"kind": "stdio", "public": [{"input": "", "output": output}]},
        }
    )


def test_no_ipc_object_survives_into_the_next_attempt(any_sandbox: Sandbox) -> None:
    """SysV shared memory, message queues, semaphores and POSIX message queues left by one
    attempt (an answer to replay, or 300 MB that starve the next program) are gone after it."""
    assert any_sandbox.run_suite(PLANT_IPC, _stdio_problem("planted")).accepted
    result = any_sandbox.run_suite(CHECK_IPC, _stdio_problem("clean"))
    assert result.verdict is Verdict.ACCEPTED, result.cases[0].actual_excerpt
    canary = any_sandbox.run_suite(CANARY_PROGRAM, CANARY)
    assert canary.verdict is Verdict.ACCEPTED, canary.model_dump()


def test_a_sandbox_judged_case_says_so_and_a_host_judged_one_too(any_sandbox: Sandbox) -> None:
    problem = Problem.model_validate(
        {
            "title": "judged",
            "statement": "f(x) = x + 1",
            "tests": {
                "kind": "assert",
                "entry_point": "f",
                "public": [
                    {"code": "assert f(1) == 2"},
                    {"code": "for i in range(3):\n    assert f(i) == i + 1"},
                ],
            },
        }
    )
    result = any_sandbox.run_suite("def f(x):\n    return x + 1\n", problem)
    assert result.verdict is Verdict.ACCEPTED, result.model_dump()
    assert [c.judged for c in result.cases] == ["host", "sandbox"]


def test_the_process_backend_reads_a_harness_only_up_to_its_cap() -> None:
    """Whatever floods the harness's stdout, the host keeps no more than the cap, and the run
    ends as the sandbox's failure (here a stand-in for a harness gone wrong: `yes`)."""
    run = run_capped(["yes"], b"", timeout_s=30.0, cap_bytes=1 << 20)
    assert run.timed_out
    assert len(run.stdout) <= (1 << 20) + (1 << 16)
    quiet = run_capped(["cat"], b"echo\n", timeout_s=30.0, cap_bytes=1 << 20)
    assert (quiet.stdout, quiet.exit_code, quiet.timed_out) == (b"echo\n", 0, False)
