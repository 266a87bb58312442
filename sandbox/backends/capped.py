"""Running a harness process with its output read under a cap and a deadline.

`subprocess.run(capture_output=True)` keeps whatever a process writes; a harness can honestly
write only so much (the attempt's output budget, escaped), so reading stops there and the
process is killed, and the host's memory stays bounded whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
import time
from typing import IO

from sandbox.backends.base import HarnessRun

CHUNK_BYTES = 1 << 16
STDERR_CAP_BYTES = 1 << 20


def run_capped(command: list[str], request: bytes, timeout_s: float, cap_bytes: int) -> HarnessRun:
    """Run `command` with `request` on stdin; kill it past `timeout_s` or `cap_bytes` of output.

    Raises OSError when the command cannot start.
    """
    started = time.monotonic()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdin and process.stdout and process.stderr
        feeder = threading.Thread(target=_feed, args=(process.stdin, request), daemon=True)
        feeder.start()
        streams = {process.stdout: bytearray(), process.stderr: bytearray()}
        caps = {process.stdout: cap_bytes, process.stderr: STDERR_CAP_BYTES}
        outcome = _read(streams, caps, started + timeout_s)
        if outcome != "eof":
            process.kill()
        exit_code = process.wait()
    out, err = bytes(streams[process.stdout]), bytes(streams[process.stderr])
    wall_s = time.monotonic() - started
    return HarnessRun(out, err, exit_code if outcome == "eof" else None, outcome != "eof", wall_s)


def _feed(stdin: IO[bytes], request: bytes) -> None:
    with contextlib.suppress(OSError):  # the harness is gone; the reader reports it
        stdin.write(request)
        stdin.close()


def _read(streams: dict[IO[bytes], bytearray], caps: dict[IO[bytes], int], deadline: float) -> str:
    """Read both streams to their ends: "eof", or "timeout" / "overflow" when cut short."""
    with selectors.DefaultSelector() as selector:
        for source in streams:
            selector.register(source, selectors.EVENT_READ, source)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            for key, _ in selector.select(remaining):
                stream: IO[bytes] = key.data
                chunk = os.read(stream.fileno(), CHUNK_BYTES)
                if not chunk:
                    selector.unregister(stream)
                    continue
                streams[stream].extend(chunk)
                if len(streams[stream]) > caps[stream]:
                    return "overflow"
    return "eof"
