"""A corpus of hostile programs: each names its attack and the verdicts that contain it.

Every program would pass its test if the attack worked (it prints or returns what the test
expects only when it escaped, faked, or broke something), so "not accepted" is the
containment check; the expected verdicts pin down how it was judged.

Assert attacks run against `test_code`, formatted with a fresh random `{token}` per run, so the
only way to pass is to learn the expected value. A test with a loop is one the host does not
compile (judged in the sandbox); the others are judged on the host. Programs are never
formatted: the token must not reach them through their own source.
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
    test_code: str = "assert f(1) == 2"
    compare: str = "tokens"
    # The process backend is weaker (see sandbox/backends/process.py); where it judges an
    # attack differently but still contains it, the verdicts it gives, and why.
    process_verdicts: frozenset[Verdict] | None = None
    process_reason: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def _v(*verdicts: Verdict) -> frozenset[Verdict]:
    return frozenset(verdicts)


TOKEN_TEST = 'assert f() == "{token}"'
# The same test in a loop: a shape the host does not compile, so it is judged in the sandbox.
SANDBOX_TOKEN_TEST = 'for _ in [0]:\n    assert f() == "{token}"'
FIND_TOKEN = """
import re
TOKEN = re.compile(r"[0-9a-f]{32}")
def first_token(text):
    found = TOKEN.findall(text)
    return found[0] if found else ""
"""


BASE_CORPUS: tuple[Hostile, ...] = (
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
        process_verdicts=_v(V.MEMORY_LIMIT),
        process_reason="the harness is the pid namespace's init under bubblewrap, so the signal "
        "to it is ignored; the program's SIGKILL to its own group ends it as an unexplained "
        "SIGKILL, which the judge reads as the memory killer's",
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

# --- faked passes on assert tests --------------------------------------------------------
ASSERT_ATTACKS: tuple[Hostile, ...] = (
    Hostile(
        "token_from_pipes",
        "read every inherited file descriptor for the expected token",
        FIND_TOKEN
        + "import os\nfound = ''\nfor fd in range(20):\n    try:\n        os.set_blocking(fd, False)\n"
        "        found = found or first_token(os.read(fd, 1 << 20).decode('latin-1'))\n"
        "    except OSError:\n        pass\ndef f():\n    return found\n",
        _v(V.WRONG_ANSWER),
        kind="assert",
        test_code=TOKEN_TEST,
    ),
    Hostile(
        "token_from_gc_and_frames",
        "search every object gc can find, and every frame, for the expected token",
        FIND_TOKEN
        + "import gc, sys\ndef strings(obj):\n    try:\n        if isinstance(obj, dict):\n"
        "            return [v for v in list(obj.values()) + list(obj) if isinstance(v, str)]\n"
        "        if isinstance(obj, (list, tuple)):\n"
        "            return [v for v in obj if isinstance(v, str)]\n"
        "        if isinstance(obj, bytes):\n            return [obj.decode('latin-1')]\n"
        "    except Exception:\n        pass\n    return []\n"
        "def f():\n    frame = sys._getframe()\n    while frame is not None:\n"
        "        for text in strings(frame.f_locals) + strings(frame.f_globals):\n"
        "            if first_token(text):\n                return first_token(text)\n"
        "        frame = frame.f_back\n    for obj in gc.get_objects():\n"
        "        for text in strings(obj):\n            if first_token(text):\n"
        "                return first_token(text)\n    return ''\n",
        _v(V.WRONG_ANSWER),
        kind="assert",
        test_code=TOKEN_TEST,
    ),
    Hostile(
        "metaclass_eq",
        "return an object whose class and metaclass both answer == with True",
        "class Meta(type):\n    def __eq__(cls, other):\n        return True\n"
        "    __hash__ = type.__hash__\nclass Yes(metaclass=Meta):\n    def __eq__(self, other):\n"
        "        return True\n    __hash__ = object.__hash__\ndef f():\n    return Yes()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code=TOKEN_TEST,
    ),
    Hostile(
        "metaclass_eq_sandbox_judged",
        "a metaclass that answers == for its classes, against a test judged in the sandbox",
        "class Meta(type):\n    def __eq__(cls, other):\n        return True\n"
        "    __hash__ = type.__hash__\nclass Yes(metaclass=Meta):\n    def __eq__(self, other):\n"
        "        return True\n    __hash__ = object.__hash__\ndef f():\n    return Yes()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code=SANDBOX_TOKEN_TEST,
    ),
    Hostile(
        "patch_harness_functions",
        "replace exec, eval, compile, ast.parse, json.dumps and isinstance before the tests run",
        "import ast, builtins, json\n_compile = compile\n"
        "builtins.exec = lambda *a, **k: None\nbuiltins.eval = lambda *a, **k: True\n"
        "builtins.compile = lambda *a, **k: _compile('pass', 'x', 'exec')\n"
        "ast.parse = lambda *a, **k: ast.Module(body=[], type_ignores=[])\n"
        "json.dumps = lambda *a, **k: '{\"completed\": true}'\n"
        "builtins.isinstance = lambda *a: True\ndef f():\n    return 'wrong'\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
        test_code=TOKEN_TEST,
    ),
    Hostile(
        "patch_harness_functions_sandbox_judged",
        "replace the harness's functions and rebind its comparison helpers while the tests run",
        "import ast, builtins, json, sys\n_compile = compile\n"
        "builtins.exec = lambda *a, **k: None\n"
        "builtins.compile = lambda *a, **k: _compile('pass', 'x', 'exec')\n"
        "ast.parse = lambda *a, **k: ast.Module(body=[], type_ignores=[])\n"
        "builtins.isinstance = lambda *a: True\n"
        "def f():\n    names = sys._getframe(1).f_globals\n    for name in list(names):\n"
        "        if name.startswith('__retrospect'):\n"
        "            names[name] = lambda *a, **k: True\n"
        "    names['__retrospect_compare__'] = lambda *a, **k: True\n    return 'wrong'\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
        test_code=SANDBOX_TOKEN_TEST,
    ),
    Hostile(
        "contains_lies",
        "answer `in` with True whatever is asked",
        "class Bag:\n    def __contains__(self, item):\n        return True\ndef f():\n"
        "    return Bag()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code='assert "{token}" in f()',
    ),
    Hostile(
        "contains_lies_sandbox_judged",
        "answer `in` with True, against a test judged in the sandbox",
        "class Bag:\n    def __contains__(self, item):\n        return True\ndef f():\n"
        "    return Bag()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code='for _ in [0]:\n    assert "{token}" in f()',
    ),
    Hostile(
        "tolerance_lies",
        "make `abs(f() - x) < eps` hold with an object whose subtraction returns 0",
        "class Zero:\n    def __sub__(self, other):\n        return 0\n"
        "    def __rsub__(self, other):\n        return 0\ndef f():\n    return Zero()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code="assert abs(f() - 0.{token_digits}) < 1e-12",
    ),
    Hostile(
        "tolerance_lies_sandbox_judged",
        "an object whose subtraction returns 0, against a test judged in the sandbox",
        "class Zero:\n    def __sub__(self, other):\n        return 0\n"
        "    def __rsub__(self, other):\n        return 0\ndef f():\n    return Zero()\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER),
        kind="assert",
        test_code="for _ in [0]:\n    assert abs(f() - 0.{token_digits}) < 1e-12",
    ),
    Hostile(
        "forged_report_lines",
        "write probe values, completion records and harness-like records on every descriptor",
        "import json, os\nlines = [{'probe': 0, 'value': 'guess'}, {'completed': 'f' * 32},\n"
        "         {'index': 0, 'status': 'exited', 'completed': True}, {'done': True}]\n"
        "for fd in range(1, 10):\n    for line in lines:\n        try:\n"
        "            os.write(fd, (json.dumps(line) + '\\n').encode())\n"
        "        except OSError:\n            pass\nos._exit(0)\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
        test_code=TOKEN_TEST,
    ),
    Hostile(
        "harness_stdout_through_proc",
        "write fake records into the harness's stdout through /proc/<ppid>/fd/1, then kill it",
        "import json, os, signal\nfake = {'index': 0, 'status': 'exited', 'exit_code': 0,\n"
        "        'cpu_s': 0.0, 'wall_s': 0.0, 'max_rss_kb': 0, 'stdout': '', 'stderr': '',\n"
        "        'report': json.dumps({'probe': 0, 'value': 'x'}) + '\\n', 'setup_error': '',\n"
        "        'token': ''}\nfor pid in (os.getppid(), 1, 2):\n    try:\n"
        "        with open(f'/proc/{pid}/fd/1', 'w') as out:\n"
        "            out.write(json.dumps(fake) + '\\n' + json.dumps({'done': True,\n"
        "                      'clean_before': True, 'clean_after': True}) + '\\n')\n"
        "    except OSError:\n        pass\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\ndef f():\n    return 'wrong'\n",
        _v(V.WRONG_ANSWER, V.RUNTIME_ERROR),
        kind="assert",
        test_code=TOKEN_TEST,
        process_verdicts=_v(V.WRONG_ANSWER, V.RUNTIME_ERROR, V.MEMORY_LIMIT),
        process_reason="the harness is the pid namespace's non-dumpable init under bubblewrap: "
        "its fds stay closed and its signals ignored; the program's pid is among those it "
        "SIGKILLs, an unexplained SIGKILL the judge reads as the memory killer's",
    ),
)

PROC_ATTACKS: tuple[Hostile, ...] = (
    Hostile(
        "forge_into_every_process",
        "write a passing record and a closing record into every descriptor of every other "
        "process it can see (bubblewrap's own reaper included), first, then trace them",
        "import ctypes, json, os\nrecord = {'index': 0, 'status': 'exited', 'exit_code': 0,\n"
        "    'cpu_s': 0.0, 'wall_s': 0.0, 'max_rss_kb': 0, 'stdout': 'escaped\\n',\n"
        "    'stderr': '', 'report': '', 'setup_error': '', 'token': ''}\n"
        "closing = {'done': True, 'clean_before': True, 'clean_after': True}\n"
        "data = (json.dumps(record) + '\\n' + json.dumps(closing) + '\\n').encode()\n"
        "libc = ctypes.CDLL(None, use_errno=True)\nreached = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:\n"
        "    if libc.ptrace(16, int(pid), 0, 0) == 0:\n        reached.append(pid)\n"
        "    try:\n        fds = os.listdir(f'/proc/{pid}/fd')\n    except OSError:\n"
        "        continue\n    for fd in fds:\n        try:\n"
        "            out = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)\n"
        "            os.write(out, data)\n            reached.append(pid)\n"
        "        except OSError:\n            pass\n"
        "print('escaped' if reached else 'denied')\n",
        _v(V.WRONG_ANSWER),
    ),
    Hostile(
        "open_harness_fds",
        "open the harness's stdout and memory through /proc/<ppid>, as its uid or another",
        "import os\nopened = []\nfor path in ('fd/0', 'fd/1', 'mem', 'environ'):\n    try:\n"
        "        os.close(os.open(f'/proc/{os.getppid()}/{path}', os.O_RDONLY))\n"
        "        opened.append(path)\n    except OSError:\n        pass\n"
        "print('escaped' if opened else 'denied')\n",
        _v(V.WRONG_ANSWER),
    ),
)

# --- the host judge crashed, hung or flooded by program output --------------------------
OUTPUT_ATTACKS: tuple[Hostile, ...] = (
    Hostile(
        "report_of_wrong_types",
        "write report records of the wrong type and shape to the report pipe",
        'import os\nfor line in (b\'[1, 2]\', b\'{"probe": "0", "value": 1}\', b\'"x"\',\n'
        '             b\'{"value": {"a": 1}}\', b\'{"error": 5}\'):\n'
        "    os.write(3, line + b'\\n')\ndef f(x):\n    return 2\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "report_nested_deep",
        "write a record nested 100,000 deep to the report pipe",
        "import os\nos.write(3, b'{\"probe\": 0, \"value\": ' + b'[' * 100000 + b']' * 100000"
        " + b'}\\n')\ndef f(x):\n    return 2\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "report_flood",
        "write 8 MB report lines, far past the output limit",
        "import os\nline = b'{\"value\": \"' + b'x' * (8 << 20) + b'\"}\\n'\n"
        "for _ in range(4):\n    os.write(3, line)\ndef f(x):\n    return 2\n",
        _v(V.OUTPUT_LIMIT),
        kind="functional",
    ),
    Hostile(
        "megabyte_of_digits",
        "print a 1 MB line of digits that ends in a letter, against a float comparison",
        "import sys\nsys.stdout.write('1' * 1000000 + 'x\\n')\n",
        _v(V.WRONG_ANSWER),
        expected_output="1",
        compare="float",
    ),
    Hostile(
        "deep_return_value",
        "return a value nested 10,000 deep",
        "def f(x):\n    v = []\n    for _ in range(10000):\n        v = [v]\n    return v\n",
        _v(V.RUNTIME_ERROR),
        kind="functional",
    ),
    Hostile(
        "deep_return_value_assert",
        "return a value nested 10,000 deep to an assert test",
        "def f(x):\n    v = []\n    for _ in range(10000):\n        v = [v]\n    return v\n",
        _v(V.RUNTIME_ERROR),
        kind="assert",
    ),
    Hostile(
        "colliding_hashes",
        "return a set of integers whose hashes all collide, to make the host's set quadratic",
        "def f(x):\n    return {k * (2 ** 61 - 1) for k in range(1, 3000)}\n",
        _v(V.RUNTIME_ERROR, V.WRONG_ANSWER, V.TIME_LIMIT),
        kind="assert",
        test_code="assert f(1) == {{1}}",
    ),
)

# --- processes, CPU and the sandbox's own failures ------------------------------------------
PROCESS_ATTACKS: tuple[Hostile, ...] = (
    Hostile(
        "zombie_leader",
        "end the main thread while another thread lives (a zombie leader with threads)",
        "import ctypes, threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,)).start()\n"
        "ctypes.CDLL(None).pthread_exit(None)\n",
        _v(V.TIME_LIMIT, V.RUNTIME_ERROR),
    ),
    Hostile(
        "cpu_in_unreaped_children",
        "burn 1.6 s of CPU in a child that is never waited for, under a 1 s limit",
        "import os, time\nr, w = os.pipe()\nif os.fork() == 0:\n"
        "    end = time.process_time() + 1.6\n    while time.process_time() < end:\n"
        "        pass\n    os.write(w, b'x')\n    os._exit(0)\nos.read(r, 1)\nprint('escaped')\n",
        _v(V.TIME_LIMIT),
    ),
    Hostile(
        "cpu_in_children_the_kernel_reaps",
        "ignore SIGCHLD so the kernel reaps a child that burns 1.6 s under a 1 s limit",
        "import os, signal, time\ntry:\n    signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "except OSError:\n    pass\nr, w = os.pipe()\nif os.fork() == 0:\n"
        "    end = time.process_time() + 1.6\n    while time.process_time() < end:\n"
        "        pass\n    os.write(w, b'x')\n    os._exit(0)\nos.read(r, 1)\nprint('escaped')\n",
        _v(V.TIME_LIMIT),
    ),
    Hostile(
        "cpu_in_children_with_nocldwait",
        "ask for SA_NOCLDWAIT through the raw syscall, then burn 1.6 s in a child",
        "import ctypes, os, struct, time\nlibc = ctypes.CDLL(None)\n"
        "act = ctypes.create_string_buffer(struct.pack('QQQQ', 0, 0x2 | 0x04000000, 0, 0), 64)\n"
        "nr = {'x86_64': 13, 'aarch64': 134}[os.uname().machine]\n"
        "libc.syscall(nr, 17, act, None, 8)\nr, w = os.pipe()\nif os.fork() == 0:\n"
        "    end = time.process_time() + 1.6\n    while time.process_time() < end:\n"
        "        pass\n    os.write(w, b'x')\n    os._exit(0)\nos.read(r, 1)\nprint('escaped')\n",
        _v(V.TIME_LIMIT),
    ),
    Hostile(
        "memory_in_the_interpreters_headroom",
        "hold 100 MB under a 64 MB limit, within the address-space rlimit's headroom",
        "x = bytearray(100 * 1024 * 1024)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\n"
        "print('escaped')\n",
        _v(V.MEMORY_LIMIT),
    ),
    Hostile(
        "namespaces_and_mounts",
        "make a user namespace (and with it every capability inside), mount, or clone one",
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "clone = {'x86_64': 56, 'aarch64': 220}[os.uname().machine]\n"
        "child = libc.syscall(clone, 0x10000000 | 17, 0, 0, 0, 0)\n"
        "if child == 0:\n    os._exit(0)\n"
        "made = [libc.unshare(0x10000000), libc.unshare(0x40000000 | 0x00020000),\n"
        "        libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None)]\n"
        "print('escaped' if child > 0 or 0 in made else 'contained')\n",
        _v(V.WRONG_ANSWER),
    ),
    Hostile(
        "ip_and_netlink_sockets",
        "open an IP, netlink or packet socket (TCP state that outlives the program, routes)",
        "import socket\nopened = []\nfor family in (socket.AF_INET, socket.AF_INET6, "
        "socket.AF_NETLINK, socket.AF_PACKET):\n    try:\n"
        "        socket.socket(family, socket.SOCK_DGRAM if family == socket.AF_NETLINK else "
        "socket.SOCK_RAW if family == socket.AF_PACKET else socket.SOCK_STREAM).close()\n"
        "        opened.append(family)\n    except OSError:\n        pass\n"
        "print('escaped' if opened else 'contained')\n",
        _v(V.WRONG_ANSWER),
    ),
    Hostile(
        "setup_failure_banner",
        "print the harness's old setup-failure banner and exit 70, to be blamed on the sandbox",
        "import sys\nsys.stderr.write('retrospect-harness: case setup failed: EPERM\\n')\n"
        "sys.exit(70)\n",
        _v(V.RUNTIME_ERROR),
    ),
)

CORPUS: tuple[Hostile, ...] = (
    BASE_CORPUS + ASSERT_ATTACKS + PROC_ATTACKS + OUTPUT_ATTACKS + PROCESS_ATTACKS
)
