"""Class 7: an attempt finds the box as the first attempt found it, whatever ran before.

An observer reads every counter and table an earlier attempt could have moved: the inode
numbers a new file gets in /tmp and /dev/shm, the pids it and its child get, the processes it
can see, whether the socket name an earlier attempt bound is free, whether it may open an IP
socket at all (no: so no TCP state, TIME_WAIT included, can outlive a program), and the cgroup
counters of the box. Each kind of leftover runs between two observations in the same warm box;
the observations must be equal.
"""

from __future__ import annotations

import pytest

from sandbox import Problem, Sandbox, Verdict

NAME = "\\0retrospect-left-behind"  # an abstract socket name, per network namespace

OBSERVE = f"""
import os, socket
def inode(directory):
    path = os.path.join(directory, 'observer')
    open(path, 'w').close()
    number = os.stat(path).st_ino
    os.unlink(path)
    return number
def name_free():
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.bind('{NAME}')
        return True
    except OSError:
        return False
    finally:
        probe.close()
def ip_socket():
    try:
        socket.socket().close()
        return True
    except OSError:
        return False
def cgroup_counters():
    found = []
    for root, _, files in os.walk('/sys/fs/cgroup'):
        for name in files:
            if name.endswith(('usage', 'usage_in_bytes', 'failcnt', '.stat', '.current', '.peak')):
                try:
                    found.append((os.path.join(root, name), open(os.path.join(root, name)).read()))
                except OSError:
                    pass
    return sorted(found)
child = os.fork()
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
try:
    visible = sorted(entry for entry in os.listdir('/proc') if entry.isdigit())
except OSError as error:
    visible = type(error).__name__
print(repr(dict(tmp=inode('/tmp'), shm=inode('/dev/shm'), me=os.getpid(), child=child,
                visible=visible, tmp_entries=sorted(os.listdir('/tmp')), name_free=name_free(),
                ip_socket=ip_socket(),
                cgroup=hash(tuple(cgroup_counters())) if cgroup_counters() else 0)))
"""

LEFTOVERS = {
    "files": "import os\nfor d in ('/tmp', '/dev/shm'):\n"
    "    for i in range(200):\n        open(f'{d}/f{i}', 'w').close()\n"
    "    for i in range(200):\n        os.unlink(f'{d}/f{i}')\nprint('left')\n",
    "processes": "import os\nfor _ in range(40):\n    pid = os.fork()\n    if pid == 0:\n"
    "        os._exit(0)\n    os.waitpid(pid, 0)\nprint('left')\n",
    "sockets": "import os, socket, time\nif os.fork() == 0:\n"
    "    held = socket.socket(socket.AF_UNIX)\n"
    f"    held.bind('{NAME}')\n    held.listen()\n    time.sleep(600)\n"
    "for family in (socket.AF_INET, socket.AF_INET6):\n    try:\n"
    "        socket.socket(family).bind(('', 39217))\n    except OSError:\n        pass\n"
    "time.sleep(0.1)\nprint('left')\n",
    "cpu_and_memory": "import time\nx = bytearray(48 * 1024 * 1024)\n"
    "for i in range(0, len(x), 4096):\n    x[i] = 1\nend = time.process_time() + 0.3\n"
    "while time.process_time() < end:\n    pass\nprint('left')\n",
}


def _stdio(output: str) -> Problem:
    return Problem.model_validate(
        {
            "title": "isolation",
            "statement": "observe the box",
            "tests": {"kind": "stdio", "public": [{"input": "", "output": output}]},
        }
    )


def _observe(sandbox: Sandbox) -> str:
    result = sandbox.run_suite(OBSERVE, _stdio("?"))
    case = result.cases[0]
    assert case.verdict is Verdict.WRONG_ANSWER, result.model_dump()
    return case.actual_excerpt


@pytest.mark.parametrize("leftover", sorted(LEFTOVERS))
def test_an_attempt_finds_the_box_as_the_first_one_did(any_sandbox: Sandbox, leftover: str) -> None:
    before = _observe(any_sandbox)
    left = any_sandbox.run_suite(LEFTOVERS[leftover], _stdio("left"))
    assert left.verdict is Verdict.ACCEPTED, left.model_dump()
    assert _observe(any_sandbox) == before


def test_the_program_sees_only_its_own_processes_and_no_cgroup_counter(
    any_sandbox: Sandbox,
) -> None:
    observed = eval(_observe(any_sandbox))  # our own repr of plain data
    assert observed["cgroup"] == 0
    assert observed["name_free"] is True
    assert observed["ip_socket"] is False
    if any_sandbox.backend.name == "docker":  # the process backend shares the harness's uid
        assert observed["visible"] == [str(observed["me"])]
