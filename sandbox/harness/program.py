"""Inside the case process (the program's side): run the program, then the case (a call,
the probe steps of a host-judged assert, or sandbox-judged test code), and report what came of
it on the report pipe; the host compares.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import linecache
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import (
    _BUILTINS_MODULE_DICT,
    REAL_BUILTINS,
    JsonDict,
    _compile,
    _dumps,
    _eval,
    _exec,
    _exit,
    _len,
    _listdir,
    _parse,
    _read,
    _setprofile,
    _settrace,
    _type,
    _write,
)
from sandbox.harness.strict import MISMATCHES, compile_tests, test_namespace
from sandbox.harness.values import _to_json_data, launder
from sandbox.protocol import (
    FRAME_CALL,
    FRAME_PROBES,
    FRAME_SCRIPT,
    PROGRAM_FILE,
    REPORT_FD,
    TEST_FILE,
    TOKEN_FD,
    Header,
    encode_value,
)

# bundle: strip-end


# Pipe writes and reads go in pieces of this size (shared with the harness's side, `case`).
CHUNK_BYTES = 65536


def describe_error(exc: BaseException) -> JsonDict:
    """An exception as type, message and the last frames that lie in the program or tests."""
    frames = [
        {"line": f.lineno or 0, "function": f.name[:200], "code": (f.line or "").strip()[:500]}
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename in (PROGRAM_FILE, TEST_FILE)
    ]
    if isinstance(exc, SyntaxError) and exc.filename == PROGRAM_FILE:
        code = (exc.text or "").strip()[:500]
        frames.append({"line": exc.lineno or 0, "function": "<module>", "code": code})
    described: JsonDict = {
        "type": _type(exc).__name__,
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

    def __init__(self, header: Header, case: JsonDict, code: types.CodeType) -> None:
        self.header = header
        self.case = case
        self.code = code
        self.tests: types.CodeType | None = None
        self.defines_check = False

    def run(self) -> None:
        linecache.cache[PROGRAM_FILE] = _cache_entry(self.header.program, PROGRAM_FILE)
        module = types.ModuleType("__main__" if self.header.kind == "stdio" else "solution")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        try:
            self._prepare_tests()
            status = self._run_kind(module.__dict__)
        except SystemExit as exc:
            status = _exit_status(exc)
        except BaseException as exc:  # the program's failure, reported as such
            # The program is done: give `traceback` and `json` back the builtins it replaced.
            dict.update(_BUILTINS_MODULE_DICT, REAL_BUILTINS)
            self._report({"error": describe_error(exc)})
            status = 1
        self._flush()
        _exit(status)

    def _prepare_tests(self) -> None:
        """Compile sandbox-judged test code before the program runs, so a patched `compile`
        or `ast` cannot touch it."""
        if self.case["frame"] == FRAME_SCRIPT:
            linecache.cache[TEST_FILE] = _cache_entry(self.case["code"], TEST_FILE)
            self.tests = compile_tests(self.case["code"])
            self.defines_check = "check" in _defined_names(self.case["code"])

    def _run_kind(self, namespace: dict[str, Any]) -> int:
        kind = self.case["frame"]
        _exec(self.code, namespace)
        if kind == FRAME_CALL:
            entry = resolve_entry(namespace, self.header.entry_point or "")
            value = entry(*self.case["args"], **self.case["kwargs"])
            self._flush()
            self._report({"value": _to_json_data(launder(value))})
        elif kind == FRAME_PROBES:
            self._run_probes(namespace)
        elif kind == FRAME_SCRIPT:
            self._run_script(namespace)
        return 0

    def _run_probes(self, namespace: dict[str, Any]) -> None:
        """Run each step in order and report its outcome; the host compares."""
        _exec(_compile(self.case["setup"], TEST_FILE, "exec"), namespace)

        def report(record: JsonDict) -> None:
            self._flush()
            self._report(record)

        run_steps(self.case["steps"], namespace, report)

    def _run_script(self, namespace: dict[str, Any]) -> None:
        entry_point = self.header.entry_point
        candidate = resolve_entry(namespace, entry_point) if entry_point else None
        tests = test_namespace(namespace, (entry_point or "").partition(".")[0])
        _exec(self.tests, tests)  # type: ignore[arg-type]
        if self.defines_check:
            if candidate is None:
                raise NameError("the test defines check() but the problem names no entry point")
            tests["check"](candidate)
        self._flush()
        self._claim_token()

    def _claim_token(self) -> None:
        """Ask the harness for this case's token only now, after every line of program and test
        code ran, with no other thread and no trace hook left to read it."""
        _settrace(None)
        _setprofile(None)
        if _len(_listdir("/proc/self/task")) != 1:
            raise RuntimeError("the program left threads running at the end of the tests")
        _write(TOKEN_FD, b"?")
        token = _read(TOKEN_FD, 64)
        _write(REPORT_FD, b'{"completed": "' + token + b'"}\n')

    def _report(self, record: JsonDict) -> None:
        data = (_dumps(record) + "\n").encode()
        for start in range(0, _len(data), CHUNK_BYTES):
            _write(REPORT_FD, data[start : start + CHUNK_BYTES])

    def _flush(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed or replaced stream
                stream.flush()


def run_steps(
    steps: list[list[Any]], namespace: dict[str, Any], report: Callable[[JsonDict], None]
) -> None:
    """The steps of a host-judged case (see `protocol.ProbeStep`), each reporting its laundered
    value, that it ran, or its failure. Objects stay held here, out of the program's
    namespace, until a later step reports them as they are then."""
    held: dict[int, Any] = {}
    for index, (source, target, wanted, of) in enumerate(steps):
        linecache.cache[TEST_FILE] = _cache_entry(source, TEST_FILE)
        try:
            value = held[of] if of >= 0 else _eval(_compile(source, TEST_FILE, "eval"), namespace)
            held[index] = value
            if target:
                namespace[target] = value
            if wanted:
                report({"probe": index, "value": encode_value(launder(value, iterators=True))})
            else:
                report({"probe": index, "ran": True})
        except BaseException as exc:  # the program's failure, on this step only
            report({"probe": index, "error": describe_error(exc)})


def _cache_entry(source: str, name: str) -> tuple[int, None, list[str], str]:
    return _len(source), None, source.splitlines(True), name


def _defined_names(code: str) -> set[str]:
    tree = _parse(code, TEST_FILE)
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if type(exc.code) is int:
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1
