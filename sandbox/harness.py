"""The in-sandbox runner: stdlib only, executed as `python3 -I -c <this source> [--serve]`.

Protocol. stdin carries length-prefixed JSON frames (`<bytes>\\n<json>`): a header, then one
frame per case; with `--serve` (a warm container's main process) requests follow one another
until stdin closes. stdout carries one JSON record per case, then a closing record. Expected
outputs never enter the sandbox: the host compares. Only assert cases carry their test code,
and it reaches the program's process only after the program itself has run.

Each case runs in a forked child that drops to an unprivileged uid (when the harness runs as
root: then the program cannot signal, trace or read the harness), gets its own session, rlimits
and pipes, and reports through a pipe of its own. The harness waits on a pidfd, caps every
stream while it flows, kills the whole case (every process of the program's uid) at its wall
limit, and cleans /tmp and /dev/shm after the attempt, so nothing is left for the next one.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import decimal
import io
import json
import linecache
import math
import os
import resource
import secrets
import selectors
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

PROGRAM_FILE = "Solution.py"
TEST_FILE = "Test.py"
REPORT_FD = 3
TESTS_FD = 4
CHUNK_BYTES = 65536
REPORT_LIMIT_BYTES = 8 * 1024 * 1024
INTERPRETER_HEADROOM_MB = 96
JsonDict = dict[str, Any]
EXACT_TYPES = (decimal.Decimal, range)
SETUP_FAILED = "retrospect-harness: case setup failed"
SETUP_FAILED_EXIT = 70


# ---------------------------------------------------------------------------------------------
# Inside the case process (the program's side)


def launder(value: Any, depth: int = 0) -> Any:
    """Rebuild a returned value from exact builtin types, so its `__eq__` cannot lie.

    The base types' own slots are called (`int.__int__(x)`, not `int(x)`), so a subclass that
    overrides conversions or comparisons is read for what it really holds.
    """
    if depth > 200:
        raise ValueError("returned value nests deeper than 200 levels")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return complex.__complex__(value)
    if type(value) in EXACT_TYPES:
        return value  # immutable C types: their comparisons cannot be patched
    return _launder_container(value, depth)


def _launder_container(value: Any, depth: int) -> Any:
    if isinstance(value, list):
        return [launder(v, depth + 1) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(launder(v, depth + 1) for v in tuple.__iter__(value))
    if isinstance(value, dict):
        return {launder(k, depth + 1): launder(v, depth + 1) for k, v in dict.items(value)}
    if isinstance(value, set):
        return {launder(v, depth + 1) for v in set.__iter__(value)}
    if isinstance(value, frozenset):
        return frozenset(launder(v, depth + 1) for v in frozenset.__iter__(value))
    if isinstance(value, bytes):
        return bytes.__bytes__(value)
    raise TypeError(f"returned a {type(value).__name__}, which is not plain data")


def _to_json_data(value: Any) -> Any:
    """Laundered data as JSON data: tuples become lists; sets and bytes are not JSON."""
    if isinstance(value, list | tuple):
        return [_to_json_data(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("returned a dict with non-string keys, which JSON cannot hold")
        return {k: _to_json_data(v) for k, v in value.items()}
    if isinstance(value, set | frozenset | bytes):
        raise TypeError(f"returned a {type(value).__name__}, which JSON cannot hold")
    return value


MISMATCHES: list[tuple[str, str]] = []


def strict_equal(left: Any, right: Any) -> bool:
    """`==` for test assertions, on laundered copies of both sides; remembers a mismatch."""
    try:
        actual, expected = launder(left), launder(right)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"cannot compare: {exc}") from None
    equal = bool(actual == expected)
    if not equal:
        MISMATCHES.append((repr(actual)[:1000], repr(expected)[:1000]))
    return equal


class _StrictEquality(ast.NodeTransformer):
    """Rewrites `a == b` / `a != b` in test code into `strict_equal` calls."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq | ast.NotEq):
            return node
        call = ast.Call(
            func=ast.Name(id="__retrospect_equal__", ctx=ast.Load()),
            args=[node.left, node.comparators[0]],
            keywords=[],
        )
        if isinstance(node.ops[0], ast.NotEq):
            return ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=call), node)
        return ast.copy_location(call, node)


def compile_tests(code: str) -> types.CodeType:
    """Test code with strict equality, compiled under its own file name."""
    tree = ast.fix_missing_locations(_StrictEquality().visit(ast.parse(code, TEST_FILE)))
    return compile(tree, TEST_FILE, "exec")


def describe_error(exc: BaseException) -> JsonDict:
    """An exception as type, message and the last frames that lie in the program or tests."""
    frames = [
        {"line": f.lineno or 0, "function": f.name, "code": (f.line or "").strip()}
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename in (PROGRAM_FILE, TEST_FILE)
    ]
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILE:
        frames.append(
            {"line": exc.lineno or 0, "function": "<module>", "code": (exc.text or "").strip()}
        )
    described: JsonDict = {
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "frames": frames[-3:],
    }
    if isinstance(exc, AssertionError) and MISMATCHES:
        described["actual"], described["expected"] = MISMATCHES[-1]
    return described


def resolve_entry(namespace: dict[str, Any], entry_point: str) -> Callable[..., Any]:
    """The function named by `entry_point`: `f`, or `Class.method` on a fresh instance."""
    head, _, method = entry_point.partition(".")
    if head not in namespace:
        raise NameError(f"the program does not define {head!r}")
    target = namespace[head]
    if method:
        target = getattr(target(), method)
    if not callable(target):
        raise TypeError(f"{entry_point!r} is not callable")
    return target  # type: ignore[no-any-return]


class CaseProcess:
    """Runs one case inside the forked child; never returns (ends with `os._exit`)."""

    def __init__(self, header: JsonDict, case: JsonDict, code: types.CodeType) -> None:
        self.header = header
        self.case = case
        self.code = code
        # Captured before the program runs, so patching modules cannot reach the report.
        self._write = os.write
        self._dumps = json.dumps
        self._exit = os._exit

    def run(self) -> None:
        linecache.cache[PROGRAM_FILE] = _cache_entry(self.header["program"], PROGRAM_FILE)
        if "code" in self.case:
            linecache.cache[TEST_FILE] = _cache_entry(self.case["code"], TEST_FILE)
        module = types.ModuleType("__main__" if self.header["kind"] == "stdio" else "solution")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        try:
            status = self._run_kind(module.__dict__)
        except SystemExit as exc:
            status = _exit_status(exc)
        except BaseException as exc:  # the program's failure, reported as such
            self._report({"error": describe_error(exc)})
            status = 1
        self._flush()
        self._exit(status)

    def _run_kind(self, namespace: dict[str, Any]) -> int:
        kind = self.header["kind"]
        exec(self.code, namespace)
        if kind == "functional":
            entry = resolve_entry(namespace, self.header["entry_point"])
            value = entry(*self.case.get("args", []), **self.case.get("kwargs", {}))
            self._flush()
            self._report({"value": _to_json_data(launder(value))})
        elif kind == "assert":
            self._run_tests(namespace)
        return 0

    def _run_tests(self, namespace: dict[str, Any]) -> None:
        nonce, code = _read_tests(TESTS_FD)
        sys.settrace(None)
        sys.setprofile(None)
        entry_point: str | None = self.header.get("entry_point")
        candidate = resolve_entry(namespace, entry_point) if entry_point else None
        if entry_point and candidate is not None and "." not in entry_point:
            namespace[entry_point] = _laundering(candidate)
        namespace["__retrospect_equal__"] = strict_equal
        tests = compile_tests(code)
        exec(tests, namespace)
        if "check" in _defined_names(code):
            if candidate is None:
                raise NameError("the test defines check() but the problem names no entry point")
            namespace["check"](_laundering(candidate))
        self._flush()
        self._report({"completed": nonce})

    def _report(self, record: JsonDict) -> None:
        data = (self._dumps(record) + "\n").encode()
        for start in range(0, len(data), CHUNK_BYTES):
            self._write(REPORT_FD, data[start : start + CHUNK_BYTES])

    def _flush(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed or replaced stream
                stream.flush()


def _cache_entry(source: str, name: str) -> tuple[int, None, list[str], str]:
    return len(source), None, source.splitlines(True), name


def _laundering(function: Callable[..., Any]) -> Callable[..., Any]:
    """The entry point with its plain-data results laundered.

    Other results (generators, iterators, objects of the program's classes) pass through as
    they are: the tests may legitimately consume them, and `strict_equal` refuses to compare
    anything that is not plain data.
    """

    def laundered(*args: Any, **kwargs: Any) -> Any:
        value = function(*args, **kwargs)
        try:
            return launder(value)
        except (TypeError, ValueError):
            return value

    return laundered


def _defined_names(code: str) -> set[str]:
    tree = ast.parse(code, TEST_FILE)
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def _read_tests(fd: int) -> tuple[str, str]:
    chunks = []
    while chunk := os.read(fd, CHUNK_BYTES):
        chunks.append(chunk)
    payload = json.loads(b"".join(chunks))
    return payload["nonce"], payload["code"]


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------
# The harness's side of one case


class CaseRun:
    """Forks, feeds and watches one case; returns its raw record."""

    def __init__(self, header: JsonDict, index: int, case: JsonDict, code: types.CodeType) -> None:
        self.header = header
        self.index = index
        self.case = case
        self.code = code
        self.nonce = secrets.token_hex(16)
        self.out = bytearray()
        self.err = bytearray()
        self.report = bytearray()
        self.status = "exited"
        self.pid = 0

    def run(self) -> JsonDict:
        pipes = _Pipes.open()
        started = time.monotonic()
        pid = self.pid = os.fork()
        if pid == 0:
            self._become_child(pipes)
        pipes.close_child_ends()
        wall_limit_s = self.header["time_limit_s"] * self.header["wall_factor"] + 1.0
        self._watch(pid, pipes, started + wall_limit_s)
        kill_program_processes(self.header, group=pid)
        _, wait_status, usage = os.wait4(pid, 0)
        pipes.close_parent_ends()
        return self._record(wait_status, usage, time.monotonic() - started)

    def _become_child(self, pipes: _Pipes) -> None:
        try:
            process = self._set_up_child(pipes)
        except BaseException as exc:  # our own setup failed: say so on the case's stderr
            os.write(2, f"{SETUP_FAILED}: {exc!r}\n".encode())
            os._exit(SETUP_FAILED_EXIT)
        try:
            process.run()
        finally:
            # Reached only when the program's failure escaped even its own report (a
            # MemoryError while formatting a RecursionError, say): still the program's fault.
            os._exit(1)

    def _set_up_child(self, pipes: _Pipes) -> CaseProcess:
        os.setsid()
        pipes.install_in_child()
        set_case_limits(self.header)
        drop_privileges(self.header)
        _reset_std_streams()
        os.environ.clear()
        os.environ.update({"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"})
        os.chdir(self.header.get("workdir", "/tmp"))
        return CaseProcess(self.header, self.case, self.code)

    def _watch(self, pid: int, pipes: _Pipes, deadline: float) -> None:
        pending = self._pending_inputs()
        with selectors.DefaultSelector() as selector:
            pidfd = os.pidfd_open(pid)
            selector.register(pidfd, selectors.EVENT_READ, "exit")
            for name, fd in pipes.readable().items():
                selector.register(fd, selectors.EVENT_READ, name)
            for name, fd in pipes.writable().items():
                if pending[name]:
                    os.set_blocking(fd, False)
                    selector.register(fd, selectors.EVENT_WRITE, name)
                else:
                    pipes.close_writer(name)
            try:
                self._pump(selector, pipes, pending, deadline)
            finally:
                os.close(pidfd)

    def _pending_inputs(self) -> dict[str, bytes]:
        stdin = self.case.get("input", "").encode() if self.header["kind"] == "stdio" else b""
        tests = b""
        if self.header["kind"] == "assert":
            tests = json.dumps({"nonce": self.nonce, "code": self.case["code"]}).encode()
        return {"stdin": stdin, "tests": tests}

    def _pump(
        self,
        selector: selectors.BaseSelector,
        pipes: _Pipes,
        pending: dict[str, bytes],
        deadline: float,
    ) -> None:
        exited = False
        while not exited or self._outputs_open(selector):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.status = "wall_timeout"
                return
            events = selector.select(min(remaining, 0.2) if exited else remaining)
            if exited and not events:
                # The program exited, but leftovers of it still hold its output pipes open.
                kill_program_processes(self.header, group=self.pid)
            for key, _ in events:
                if key.data == "exit":
                    exited = True
                    selector.unregister(key.fd)
                elif key.data in pending:
                    self._feed(selector, pipes, pending, key.data, key.fd)
                elif not self._drain(selector, key.data, key.fd):
                    return

    @staticmethod
    def _outputs_open(selector: selectors.BaseSelector) -> bool:
        return any(k.data in ("stdout", "stderr", "report") for k in selector.get_map().values())

    def _feed(
        self,
        selector: selectors.BaseSelector,
        pipes: _Pipes,
        pending: dict[str, bytes],
        name: str,
        fd: int,
    ) -> None:
        try:
            sent = os.write(fd, pending[name][:CHUNK_BYTES])
        except (BrokenPipeError, BlockingIOError) as exc:
            sent = 0 if isinstance(exc, BlockingIOError) else len(pending[name])
        pending[name] = pending[name][sent:]
        if not pending[name]:
            selector.unregister(fd)
            pipes.close_writer(name)

    def _drain(self, selector: selectors.BaseSelector, name: str, fd: int) -> bool:
        chunk = os.read(fd, CHUNK_BYTES)
        if not chunk:
            selector.unregister(fd)
            return True
        buffer, limit = self._buffer(name)
        buffer.extend(chunk)
        if len(buffer) > limit:
            del buffer[limit:]
            self.status = "output_limit" if name != "stderr" else "stderr_limit"
            return False
        return True

    def _buffer(self, name: str) -> tuple[bytearray, int]:
        if name == "stdout":
            return self.out, self.header["output_limit_bytes"]
        if name == "stderr":
            return self.err, self.header["stderr_limit_bytes"]
        return self.report, REPORT_LIMIT_BYTES

    def _record(self, wait_status: int, usage: Any, wall_s: float) -> JsonDict:
        reports = [
            json.loads(line)
            for line in self.report.decode(errors="replace").splitlines()
            if _is_json(line)
        ]
        record: JsonDict = {
            "index": self.index,
            "status": self.status,
            "exit_code": os.waitstatus_to_exitcode(wait_status),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "wall_s": wall_s,
            "max_rss_kb": usage.ru_maxrss,
            "stdout": self.out.decode("utf-8", errors="replace"),
            "stderr": self.err.decode("utf-8", errors="replace"),
            "completed": any(r.get("completed") == self.nonce for r in reports),
        }
        for report in reports:
            for key in ("value", "error"):
                if key in report and key not in record:
                    record[key] = report[key]
        return record


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


class _Pipes:
    """The case's pipes: stdin and tests flow in; stdout, stderr and the report flow out."""

    CHILD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2, "report": REPORT_FD, "tests": TESTS_FD}
    INBOUND = ("stdin", "tests")

    def __init__(self, ends: dict[str, tuple[int, int]]) -> None:
        self.ends = ends  # name -> (read end, write end)
        self.parent_fds: dict[str, int | None] = {}

    @classmethod
    def open(cls) -> _Pipes:
        return cls({name: os.pipe() for name in cls.CHILD_FDS})

    def install_in_child(self) -> None:
        wanted = {}
        for name, (read_fd, write_fd) in self.ends.items():
            wanted[name] = read_fd if name in self.INBOUND else write_fd
        # Move every end above the target numbers first, so dup2 never clobbers one we need.
        moved = {name: os.dup(fd) for name, fd in wanted.items()}
        for name, fd in moved.items():
            os.dup2(fd, self.CHILD_FDS[name], inheritable=True)
        os.closerange(TESTS_FD + 1, 65536)

    def close_child_ends(self) -> None:
        for name, (read_fd, write_fd) in self.ends.items():
            inbound = name in self.INBOUND
            os.close(read_fd if inbound else write_fd)
            self.parent_fds[name] = write_fd if inbound else read_fd

    def readable(self) -> dict[str, int]:
        return {
            n: fd for n, fd in self.parent_fds.items() if n not in self.INBOUND and fd is not None
        }

    def writable(self) -> dict[str, int]:
        return {n: fd for n, fd in self.parent_fds.items() if n in self.INBOUND and fd is not None}

    def close_writer(self, name: str) -> None:
        fd = self.parent_fds.get(name)
        if fd is not None:
            os.close(fd)
            self.parent_fds[name] = None

    def close_parent_ends(self) -> None:
        for name, fd in self.parent_fds.items():
            if fd is not None:
                os.close(fd)
                self.parent_fds[name] = None


def _reset_std_streams() -> None:
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    raw_stderr = open(2, "wb", buffering=0, closefd=False)  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(raw_stderr, encoding="utf-8", write_through=True)


def set_case_limits(header: JsonDict) -> None:
    """rlimits of one case: CPU seconds, address space, file size, files, processes, no core."""
    cpu_s = math.ceil(header["time_limit_s"] + 0.5)
    memory_bytes = (header["memory_limit_mb"] + INTERPRETER_HEADROOM_MB) * 1024 * 1024
    limits = {
        resource.RLIMIT_CPU: (cpu_s, cpu_s + 1),
        resource.RLIMIT_AS: (memory_bytes, memory_bytes),
        resource.RLIMIT_FSIZE: (header["file_size_limit_bytes"],) * 2,
        resource.RLIMIT_NOFILE: (64, 64),
        resource.RLIMIT_CORE: (0, 0),
    }
    if header.get("drop_uid") is not None and os.getuid() == 0:
        limits[resource.RLIMIT_NPROC] = (header["process_limit"],) * 2
    for name, value in limits.items():
        resource.setrlimit(name, value)


def drop_privileges(header: JsonDict) -> None:
    """Become the program's uid when the harness runs as root (Docker), else stay as is."""
    uid = header.get("drop_uid")
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def kill_program_processes(header: JsonDict, group: int | None = None) -> None:
    """SIGKILL what the program may have left, in the scope the backend names.

    `uid`: every process of the program's uid (Docker: the harness is root and alone with it).
    `namespace`: kill(-1), exact only inside a private pid namespace (bubblewrap).
    `group`: the case's own process group only; anything that left it survives (unsandboxed
    baselines, where kill(-1) would kill the host's processes).
    """
    scope = header.get("kill_scope", "group")
    if scope == "uid" and header.get("drop_uid") is not None and os.getuid() == 0:
        _kill_uid(header["drop_uid"])
    elif scope == "namespace" and _in_private_pid_namespace():
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    elif group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _in_private_pid_namespace() -> bool:
    # In bubblewrap's fresh pid namespace the harness is pid 2 (its init is 1); on a host a
    # process never has so small a pid, so kill(-1) can never reach the host's processes.
    return 1 < os.getpid() <= 3


def _kill_uid(uid: int) -> None:
    for _ in range(100):
        victims = _pids_of_uid(uid)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)


def _pids_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes of `uid`; zombies are dead already and wait for a reaper."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _is_live_process_of(entry, uid):
            pids.append(int(entry))
    return pids


def _is_live_process_of(pid: str, uid: int) -> bool:
    fields: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
                if key == "Uid":
                    break
    except OSError:
        return False
    return not fields.get("State", "").startswith(("Z", "X")) and fields.get("Uid", "").split()[
        :1
    ] == [str(uid)]


def scrub_scratch_dirs(header: JsonDict) -> bool:
    """Empty the sandbox's scratch dirs (the backend names them); True when they were empty."""
    clean = True
    for root in header.get("scrub_dirs", []):
        if not os.path.isdir(root):
            continue
        for entry in os.listdir(root):
            clean = False
            _remove(os.path.join(root, entry))
    return clean


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for entry in os.listdir(path):
                _remove(os.path.join(path, entry))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# The harness's main loop


def _emit(record: JsonDict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def _compile_program(source: str) -> types.CodeType | JsonDict:
    try:
        return compile(source, PROGRAM_FILE, "exec")
    except (SyntaxError, ValueError) as exc:
        return describe_error(exc)


def run(stdin_fd: int) -> None:
    """Read one request, run every case in order, print one record each and a closing one."""
    run_attempt(read_frame(stdin_fd), stdin_fd)


def serve(stdin_fd: int) -> None:
    """Judge requests one after another until stdin closes (a warm container's main process)."""
    while True:
        try:
            header = read_frame(stdin_fd)
        except EOFError:
            return
        run_attempt(header, stdin_fd)


def run_attempt(header: JsonDict, stdin_fd: int) -> None:
    """Run the cases that follow `header` on stdin."""
    started = time.monotonic()
    left_clean = scrub_scratch_dirs(header)
    code = _compile_program(header["program"])
    for index in range(header["n_cases"]):
        case = read_frame(stdin_fd)
        if isinstance(code, dict):
            _emit({"index": index, "status": "compile_error", "error": code})
        elif time.monotonic() - started > header["suite_wall_limit_s"]:
            _emit({"index": index, "status": "skipped"})
        else:
            _emit(CaseRun(header, index, case, code).run())
    kill_program_processes(header)
    scrubbed = scrub_scratch_dirs(header)
    _emit({"done": True, "clean_before": left_clean, "clean_after": scrubbed})


def read_frame(fd: int) -> JsonDict:
    """One `<length>\\n<json>` frame, read with no read-ahead beyond it.

    Buffered reading would pull later cases (hidden assert code among them) into the memory
    that each forked case process inherits.
    """
    digits = b""
    while (byte := os.read(fd, 1)) != b"\n":
        if not byte and not digits:
            raise EOFError("no more frames")
        if not byte or len(digits) > 12:
            raise ValueError("malformed frame header")
        digits += byte
    size = int(digits)
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ValueError("truncated frame")
        chunks.append(chunk)
        size -= len(chunk)
    frame = json.loads(b"".join(chunks))
    if not isinstance(frame, dict):
        raise ValueError("a frame must hold a JSON object")
    return frame


def main() -> None:
    """Entry point inside the sandbox: one request, or a stream of them with `--serve`."""
    if "--serve" in sys.argv[1:]:
        serve(0)
    else:
        run(0)


if __name__ == "__main__":
    main()
