"""A corpus of hostile programs: each names its attack and the verdicts that contain it.

Every program would pass its test if the attack worked (it prints or returns what the test
expects only when it escaped, faked, or broke something), so "not accepted" is the
containment check; the expected verdicts pin down how it was judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox import Verdict

V = Verdict


@dataclass(frozen=True)
class Hostile:
    """One attack: a program, the test kind it runs under, and the verdicts we accept."""

    name: str
    attack: str
    program: str
    verdicts: frozenset[Verdict]
    kind: str = "stdio"
    expected_output: str = "escaped"
    stdin: str = ""
    # The process backend is weaker (see sandbox/backends/process.py); where it judges an
    # attack differently but still contains it, the verdicts it gives, and why.
    process_verdicts: frozenset[Verdict] | None = None
    process_reason: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def _v(*verdicts: Verdict) -> frozenset[Verdict]:
    return frozenset(verdicts)


CORPUS: tuple[Hostile, ...] = (
    Hostile(
        "fork_bomb",
        "fork without end to exhaust the host's process table",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        _v(V.TIME_LIMIT, V.RUNTIME_ERROR, V.MEMORY_LIMIT, V.OUTPUT_LIMIT),
    ),
    Hostile(
        "memory_bomb",
        "allocate until the host runs out of memory",
        "x = []\nwhile True:\n    x.append(bytearray(16 * 1024 * 1024))\n",
        _v(V.MEMORY_LIMIT),
    ),
    Hostile("cpu_spin", "spin forever on the CPU", "while True:\n    pass\n", _v(V.TIME_LIMIT)),
    Hostile(
        "sleep_past_limit",
        "sleep, using no CPU, past every limit",
        "import time\ntime.sleep(3600)\nprint('escaped')\n",
        _v(V.TIME_LIMIT),
    ),
    Hostile(
        "ignore_signals",
        "ignore every catchable signal, then sleep",
        "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\ntime.sleep(3600)\nprint('escaped')\n",
        _v(V.TIME_LIMIT),
    ),
    Hostile(
        "output_flood",
        "write output without end",
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
        _v(V.OUTPUT_LIMIT),
    ),
    Hostile(
        "stderr_flood",
        "write to stderr without end",
        "import sys\nwhile True:\n    sys.stderr.write('x' * 65536)\n",
        _v(V.OUTPUT_LIMIT),
    ),
    Hostile(
        "fill_tmp",
        "fill the scratch file system",
        "with open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(b'x' * 1048576)\n",
        _v(V.RUNTIME_ERROR),
    ),
    Hostile(
        "write_outside_tmp",
        "write into the image or the host file system",
        "for path in ('/usr/escaped', '/escaped', '/etc/escaped', '/root/escaped'):\n"
        "    try:\n        open(path, 'w').write('x')\n        print('escaped')\n"
        "    except OSError:\n        pass\n",
        _v(V.WRONG_ANSWER),
    ),
    Hostile(
        "read_host_secret",
        "read a file the host test wrote outside the sandbox ({secret_path})",
        "try:\n    print(open('{secret_path}').read().strip())\nexcept OSError:\n    print('no')\n",
        _v(V.WRONG_ANSWER),
        expected_output="{secret}",
        tags=("secret",),
    ),
    Hostile(
        "loopback_probe",
        "connect to a listener the test opened on the host's loopback ({port})",
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        "    print('escaped')\nexcept OSError:\n    print('blocked')\n",
        _v(V.WRONG_ANSWER),
        tags=("listener",),
    ),
    Hostile(
        "kill_parent",
        "SIGKILL the harness that judges it, then its whole process group",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(0, signal.SIGKILL)\n"
        "print('escaped')\n",
        _v(V.RUNTIME_ERROR),
        process_verdicts=_v(V.SANDBOX_ERROR),
        process_reason="the harness shares the program's uid under bubblewrap, so it can be killed; "
        "the attempt then ends as a sandbox error, never as a pass",
    ),
    Hostile(
        "early_exit_zero",
        "exit with status 0 before the tests run",
        "def f(x):\n    return 0\nimport os\nos._exit(0)\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "sys_exit_zero",
        "raise SystemExit(0) before the tests run",
        "def f(x):\n    return 0\nimport sys\nsys.exit(0)\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "fake_result_record",
        "print and write harness-like success records, then exit",
        "import os, json\nrec = json.dumps({'index': 0, 'status': 'exited', 'exit_code': 0, "
        "'completed': True, 'done': True})\nprint(rec)\nfor fd in (1, 3, 4, 5):\n    try:\n"
        "        os.write(fd, (json.dumps({'completed': True}) + '\\n').encode())\n"
        "    except OSError:\n        pass\nos._exit(0)\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "patch_harness_and_builtins",
        "patch json, os.write, builtins and __main__ so a report looks like a pass",
        "import builtins, json, os, sys\njson.dumps = lambda *a, **k: '{\"completed\": true}'\n"
        "os.write = lambda fd, data: len(data)\nbuiltins.AssertionError = Exception\n"
        "sys.modules['__main__'].__dict__.clear()\ndef f(x):\n    return 0\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "lying_eq_assert",
        "return an object whose __eq__ always says yes",
        "class Yes:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
        "        return False\ndef f(x):\n    return Yes()\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "lying_int_subclass",
        "return an int subclass whose __eq__ always says yes",
        "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\ndef f(x):\n    return Liar(12345)\n",
        _v(V.WRONG_ANSWER),
        kind="functional",
    ),
    Hostile(
        "lying_eq_functional",
        "return an object whose __eq__ always says yes to a functional test",
        "class Yes:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Yes()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="functional",
    ),
    Hostile(
        "recursion_bomb",
        "recurse without end after lifting the recursion limit",
        "import sys\nsys.setrecursionlimit(10**7)\ndef r(n):\n    return r(n + 1) + 1\nprint(r(0))\n",
        _v(V.RUNTIME_ERROR, V.MEMORY_LIMIT, V.TIME_LIMIT),
    ),
    Hostile(
        "huge_stdin_ignored",
        "ignore a huge stdin (the harness must not block feeding it)",
        "print('done')\n",
        _v(V.WRONG_ANSWER),
        expected_output="escaped",
        stdin="x" * (4 * 1024 * 1024),
    ),
    Hostile(
        "non_utf8_output",
        "write bytes that are not UTF-8",
        "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\xfd escaped\\n')\n",
        _v(V.WRONG_ANSWER),
    ),
    Hostile(
        "close_std_streams",
        "close its own stdout and stderr file descriptors",
        "import os\nos.close(1)\nos.close(2)\nprint('escaped')\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
    ),
)
