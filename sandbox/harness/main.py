"""The harness's main loop: read a request's frames, run each case in order, and print one
record per case and a closing record; with `--serve`, requests follow one another until stdin
closes (a warm container's main process), and with `--box-tmpfs-mb N` each of them is judged
in a box of its own (`box.py`).
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from collections.abc import Callable

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.box import BOX_DONE_EXIT, BOX_NO_MORE_EXIT, CpuMeter, run_box
from sandbox.harness.case import CaseRun
from sandbox.harness.cleanup import (
    ipc_is_empty,
    kill_program_processes,
    proven_clean,
    scrub_scratch_dirs,
)
from sandbox.harness.pinned import JsonDict, _dumps, _len
from sandbox.harness.privileges import harden_harness
from sandbox.harness.program import describe_error
from sandbox.protocol import PROGRAM_FILE, Header

# bundle: strip-end


def _emit(record: JsonDict) -> None:
    sys.stdout.write(_dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _compile_program(source: str) -> types.CodeType | JsonDict:
    try:
        return compile(source, PROGRAM_FILE, "exec")
    except (SyntaxError, ValueError) as exc:
        return describe_error(exc)


def run(stdin_fd: int) -> None:
    """Read one request, run every case in order, print one record each and a closing one."""
    run_attempt(Header.from_json(read_frame(stdin_fd)), stdin_fd)


def serve(stdin_fd: int) -> None:
    """Judge requests one after another until stdin closes (a warm container's main process)."""
    while True:
        try:
            header = Header.from_json(read_frame(stdin_fd))
        except EOFError:
            return
        run_attempt(header, stdin_fd)


def serve_in_boxes(stdin_fd: int, tmpfs_mb: int) -> None:
    """Judge requests one after another, each in a fresh box, until stdin closes.

    The box's init reads the request and writes the case records; the closing record is ours,
    written once the box and everything in it are gone. A box that could not be built ends the
    harness (its reason on stderr), so the backend starts a fresh container.
    """
    while True:
        clean_before = _guarded(ipc_is_empty)
        ended = run_box(tmpfs_mb, lambda meter: _attempt_in_box(stdin_fd, meter))
        if ended == BOX_NO_MORE_EXIT:
            return
        if ended != BOX_DONE_EXIT:
            raise SystemExit(f"the attempt's box failed (exit {ended})")
        _emit({"done": True, "clean_before": clean_before, "clean_after": _guarded(ipc_is_empty)})


def _attempt_in_box(stdin_fd: int, meter: CpuMeter) -> int:
    try:
        header = Header.from_json(read_frame(stdin_fd))
    except EOFError:
        return BOX_NO_MORE_EXIT
    run_cases(header, stdin_fd, meter)
    kill_program_processes(header)
    return BOX_DONE_EXIT


def run_attempt(header: Header, stdin_fd: int) -> None:
    """Run the cases that follow `header` on stdin, cleaning the box before and after."""
    left_clean = _guarded(lambda: scrub_scratch_dirs(header)) and (
        not header.check_ipc or _guarded(ipc_is_empty)
    )
    run_cases(header, stdin_fd, CpuMeter(None))
    kill_program_processes(header)
    _guarded(lambda: scrub_scratch_dirs(header))
    _emit(
        {
            "done": True,
            "clean_before": left_clean,
            "clean_after": _guarded(lambda: proven_clean(header)),
        }
    )


def run_cases(header: Header, stdin_fd: int, meter: CpuMeter) -> None:
    """Read each case of the attempt, run it, and print its record."""
    started = time.monotonic()
    code = _compile_program(header.program)
    budget = header.attempt_output_limit_bytes
    for index in range(header.n_cases):
        case = read_frame(stdin_fd)
        if not isinstance(code, types.CodeType):
            _emit(_bare_record(index, "compile_error", json.dumps({"error": code}) + "\n"))
        elif time.monotonic() - started > header.suite_wall_limit_s:
            _emit(_bare_record(index, "skipped", ""))
        else:
            record = CaseRun(header, index, case, code, budget, meter).run()
            budget -= _len(record["stdout"]) + _len(record["report"])
            _emit(record)


def _guarded(check: Callable[[], bool]) -> bool:
    """A clean-up step whatever the program left: any failure of it means "not proven clean"
    (the backend recycles the box), never a harness crash that would blame the sandbox."""
    try:
        return check()
    except Exception:
        return False


def _bare_record(index: int, status: str, report: str) -> JsonDict:
    """The record of a case that never ran."""
    return {
        "index": index,
        "status": status,
        "exit_code": 0,
        "cpu_s": 0.0,
        "wall_s": 0.0,
        "max_rss_kb": 0,
        "baseline_rss_kb": 0,
        "stdout": "",
        "stderr": "",
        "report": report,
        "setup_error": "",
        "token": "",
    }


def read_frame(fd: int) -> JsonDict:
    """One `<length>\\n<json>` frame, read with no read-ahead beyond it.

    Buffered reading would pull later cases (hidden assert code among them) into the memory
    that each forked case process inherits.
    """
    digits = b""
    while (byte := os.read(fd, 1)) != b"\n":
        if not byte and not digits:
            raise EOFError("no more frames")
        if not byte or _len(digits) > 12:
            raise ValueError("malformed frame header")
        digits += byte
    size = int(digits)
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ValueError("truncated frame")
        chunks.append(chunk)
        size -= _len(chunk)
    frame: JsonDict = json.loads(b"".join(chunks))
    if not isinstance(frame, dict):
        raise ValueError("a frame must hold a JSON object")
    return frame


def main() -> None:
    """Entry point inside the sandbox: one request, or a stream of them with `--serve`."""
    harden_harness()
    arguments = sys.argv[1:]
    if "--box-tmpfs-mb" in arguments:
        serve_in_boxes(0, int(arguments[arguments.index("--box-tmpfs-mb") + 1]))
    elif "--serve" in arguments:
        serve(0)
    else:
        run(0)


if __name__ == "__main__":
    main()
