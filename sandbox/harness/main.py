"""The harness's main loop: read a request's frames, run each case in order, and print one
record per case and a closing record; with `--serve`, requests follow one another until stdin
closes (a warm container's main process), and with `--box-tmpfs-mb N` each of them is judged
in a box of its own (`box.py`).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import types
from collections.abc import Callable

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.box import Box, run_in_box
from sandbox.harness.case import CaseRun
from sandbox.harness.cleanup import (
    ipc_is_empty,
    kill_program_processes,
    proven_clean,
    reap_everything,
    scrub_scratch_dirs,
)
from sandbox.harness.pinned import JsonDict, _dumps, _len
from sandbox.harness.privileges import harden_harness
from sandbox.harness.program import describe_error
from sandbox.protocol import PROGRAM_FILE, Header

# bundle: strip-end


# How long the box's init waits for the killed program's processes to be gone.
REAP_ALL_WAIT_S = 2.0


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
    """Judge requests one after another until stdin closes, each in a box made new for it
    (`box.py`). A box that failed ends the harness (its reason on stderr), so the backend
    starts a fresh container."""
    ended = run_in_box(functools.partial(_serve_as_init, stdin_fd, tmpfs_mb))
    if ended != 0:
        raise SystemExit(f"the attempt's box failed (exit {ended})")


def _serve_as_init(stdin_fd: int, tmpfs_mb: int, box: Box) -> int:
    """The box's init: before each attempt, make the box new; after it, kill and reap every
    process of the program, then write the closing record."""
    while True:
        clean_before = _guarded(box.ipc.empty)
        box.refresh(tmpfs_mb)
        try:
            header = Header.from_json(read_frame(stdin_fd))
        except EOFError:
            return 0
        run_cases(header, stdin_fd)
        kill_program_processes(header)
        reaped = reap_everything(REAP_ALL_WAIT_S)
        _emit(
            {
                "done": True,
                "clean_before": clean_before,
                "clean_after": reaped and _guarded(box.ipc.empty),
            }
        )


def run_attempt(header: Header, stdin_fd: int) -> None:
    """Run the cases that follow `header` on stdin, cleaning the box before and after."""
    left_clean = _guarded(lambda: scrub_scratch_dirs(header)) and (
        not header.check_ipc or _guarded(ipc_is_empty)
    )
    run_cases(header, stdin_fd)
    kill_program_processes(header)
    _guarded(lambda: scrub_scratch_dirs(header))
    _emit(
        {
            "done": True,
            "clean_before": left_clean,
            "clean_after": _guarded(lambda: proven_clean(header)),
        }
    )


def run_cases(header: Header, stdin_fd: int) -> None:
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
            record = CaseRun(header, index, case, code, budget).run()
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
