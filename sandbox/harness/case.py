"""The harness's side of one case: fork the case process with its own session, rlimits and
pipes, feed its stdin, drain its output within the limits, answer its token, then kill and reap
all of it (its CPU charged to the case) and make its raw record.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import selectors
import socket
import sys
import time
import types

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.cleanup import kill_program_processes, reap_everything, reclaim_dirs
from sandbox.harness.pinned import JsonDict, _len
from sandbox.harness.privileges import drop_privileges, set_case_limits
from sandbox.harness.program import CHUNK_BYTES, CaseProcess
from sandbox.harness.syscalls import deny_namespaces
from sandbox.protocol import FRAME_SCRIPT, FRAME_STDIO, REPORT_FD, SETUP_FD, TOKEN_FD, Header

# bundle: strip-end


SETUP_FAILED_EXIT = 70
REAP_WAIT_S = 2.0


class CaseRun:
    """Forks, feeds and watches one case; returns its raw record."""

    def __init__(
        self, header: Header, index: int, case: JsonDict, code: types.CodeType, budget: int
    ) -> None:
        self.header = header
        self.index = index
        self.case = case
        self.code = code
        self.budget = budget  # bytes of stdout and report this case may still send
        self.buffers = {name: bytearray() for name in ("stdout", "stderr", "report", "setup")}
        self.token = ""
        self.status = "exited"
        self.pid = 0

    def run(self) -> JsonDict:
        reclaim_dirs(self.header)
        channels = _Channels.open(self.case["frame"] == FRAME_SCRIPT)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        baseline_rss_kb = _resident_kb()  # what the forked case holds before the program runs
        started = time.monotonic()
        pid = self.pid = os.fork()
        if pid == 0:
            self._become_child(channels)
        channels.close_child_ends()
        try:
            self._watch(pid, channels, started + self.header.case_wall_limit_s)
        finally:
            kill_program_processes(self.header, group=pid)
            wait_status, max_rss_kb = _reap_case(pid)
            channels.close_parent_ends()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        wall_s = time.monotonic() - started
        return self._record(wait_status, cpu_s, (max_rss_kb, baseline_rss_kb), wall_s)

    def _become_child(self, channels: _Channels) -> None:
        try:
            process = self._set_up_child(channels)
            os.close(SETUP_FD)  # closed before the program runs: it can never say "setup failed"
        except BaseException as exc:  # our own setup failed: say so on the setup channel only
            with contextlib.suppress(OSError):
                os.write(SETUP_FD, f"{exc!r}"[:1000].encode() or b"?")
            os._exit(SETUP_FAILED_EXIT)
        try:
            process.run()
        finally:
            # Reached only when the program's failure escaped even its own report (a
            # MemoryError while formatting a RecursionError, say): still the program's fault.
            os._exit(1)

    def _set_up_child(self, channels: _Channels) -> CaseProcess:
        os.setsid()
        channels.install_in_child()
        set_case_limits(self.header)
        drop_privileges(self.header)
        deny_namespaces()
        _reset_std_streams()
        os.environ.clear()
        os.environ.update({"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"})
        os.chdir(self.header.workdir)
        return CaseProcess(self.header, self.case, self.code)

    def _watch(self, pid: int, channels: _Channels, deadline: float) -> None:
        stdin = self.case["input"].encode() if self.case["frame"] == FRAME_STDIO else b""
        with selectors.DefaultSelector() as selector:
            pidfd = os.pidfd_open(pid)
            selector.register(pidfd, selectors.EVENT_READ, "exit")
            for name, fd in channels.readable().items():
                selector.register(fd, selectors.EVENT_READ, name)
            if stdin:
                os.set_blocking(channels.stdin_fd(), False)
                selector.register(channels.stdin_fd(), selectors.EVENT_WRITE, "stdin")
            else:
                channels.close_stdin()
            try:
                self._pump(selector, channels, stdin, deadline)
            finally:
                os.close(pidfd)

    def _pump(
        self, selector: selectors.BaseSelector, channels: _Channels, stdin: bytes, deadline: float
    ) -> None:
        exited = False
        pending = [stdin]
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
                elif key.data == "stdin":
                    self._feed(selector, channels, pending, key.fd)
                elif key.data == "token":
                    self._answer_token(selector, key.fd)
                elif not self._drain(selector, key.data, key.fd):
                    return

    @staticmethod
    def _outputs_open(selector: selectors.BaseSelector) -> bool:
        return any(
            k.data in ("stdout", "stderr", "report", "setup") for k in selector.get_map().values()
        )

    def _feed(
        self, selector: selectors.BaseSelector, channels: _Channels, pending: list[bytes], fd: int
    ) -> None:
        try:
            sent = os.write(fd, pending[0][:CHUNK_BYTES])
        except (BrokenPipeError, BlockingIOError) as exc:
            sent = 0 if isinstance(exc, BlockingIOError) else _len(pending[0])
        pending[0] = pending[0][sent:]
        if not pending[0]:
            selector.unregister(fd)
            channels.close_stdin()

    def _answer_token(self, selector: selectors.BaseSelector, fd: int) -> None:
        """The case's token, made now and only here, sent once to whoever asks first."""
        try:
            asked = os.read(fd, 16)
        except OSError:
            asked = b""
        if not asked or self.token:
            selector.unregister(fd)
            return
        self.token = os.urandom(16).hex()
        with contextlib.suppress(OSError):
            os.write(fd, self.token.encode())

    def _drain(self, selector: selectors.BaseSelector, name: str, fd: int) -> bool:
        chunk = os.read(fd, CHUNK_BYTES)
        if not chunk:
            selector.unregister(fd)
            return True
        buffer = self.buffers[name]
        buffer.extend(chunk)
        limit = self._limit(name)
        if _len(buffer) > limit:
            del buffer[limit:]
            self.status = "output_limit" if name != "stderr" else "stderr_limit"
            return False
        return True

    def _limit(self, name: str) -> int:
        if name == "stderr":
            return self.header.stderr_limit_bytes
        if name == "setup":
            return 4096
        other = "report" if name == "stdout" else "stdout"
        shared = self.budget - _len(self.buffers[other]) if name in ("stdout", "report") else 0
        return max(0, min(self.header.output_limit_bytes, shared))

    def _record(
        self, wait_status: int, cpu_s: float, rss_kb: tuple[int, int], wall_s: float
    ) -> JsonDict:
        text = {
            name: bytes(data).decode("utf-8", errors="replace")
            for name, data in self.buffers.items()
        }
        return {
            "index": self.index,
            "status": self.status,
            "exit_code": os.waitstatus_to_exitcode(wait_status),
            "cpu_s": float(max(0.0, cpu_s)),
            "wall_s": float(wall_s),
            "max_rss_kb": int(rss_kb[0]),
            "baseline_rss_kb": int(rss_kb[1]),
            "stdout": text["stdout"],
            "stderr": text["stderr"],
            "report": text["report"],
            "setup_error": text["setup"],
            "token": self.token,
        }


def _resident_kb() -> int:
    """Our resident memory now: a forked case starts out holding as much, all of it ours."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def _reap_case(pid: int) -> tuple[int, int]:
    """Reap the case's process and every orphan of it that came back to us (subreaper), so the
    CPU of all of them lands in our RUSAGE_CHILDREN. Returns the case's wait status and RSS."""
    found = [0, 0]

    def note(reaped: int, status: int, usage: resource.struct_rusage) -> None:
        if reaped == pid:
            found[:] = [status, usage.ru_maxrss]

    reap_everything(REAP_WAIT_S, note)
    return found[0], found[1]


class _Channels:
    """The case's pipes: stdin flows in; stdout, stderr, the report and setup failures flow
    out; a sandbox-judged case also gets a socket on which it asks for its token."""

    CHILD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2, "report": REPORT_FD, "setup": SETUP_FD}

    def __init__(self, ends: dict[str, tuple[int, int]], token: socket.socket | None) -> None:
        self.ends = ends  # name -> (read end, write end)
        self.token = token
        self.child_token: socket.socket | None = None
        self.parent_fds: dict[str, int | None] = {}

    @classmethod
    def open(cls, with_token: bool) -> _Channels:
        ends = {name: os.pipe() for name in cls.CHILD_FDS}
        channels = cls(ends, None)
        if with_token:
            channels.token, channels.child_token = socket.socketpair()
        return channels

    def install_in_child(self) -> None:
        wanted = {
            name: read_fd if name == "stdin" else write_fd
            for name, (read_fd, write_fd) in self.ends.items()
        }
        targets = dict(self.CHILD_FDS)
        if self.child_token is not None:
            wanted["token"], targets["token"] = self.child_token.fileno(), TOKEN_FD
        # Move every end above the target numbers first, so dup2 never clobbers one we need.
        moved = {name: os.dup(fd) for name, fd in wanted.items()}
        for name, fd in moved.items():
            os.dup2(fd, targets[name], inheritable=True)
        # Close everything else, gaps below the highest target included: a stray write end of
        # the stdin pipe kept here would keep the program from ever seeing end of input.
        highest = max(targets.values())
        for fd in set(range(highest)) - set(targets.values()):
            with contextlib.suppress(OSError):
                os.close(fd)
        os.closerange(highest + 1, 65536)

    def close_child_ends(self) -> None:
        for name, (read_fd, write_fd) in self.ends.items():
            os.close(read_fd if name == "stdin" else write_fd)
            self.parent_fds[name] = write_fd if name == "stdin" else read_fd
        if self.child_token is not None:
            self.child_token.close()

    def readable(self) -> dict[str, int]:
        fds = {n: fd for n, fd in self.parent_fds.items() if n != "stdin" and fd is not None}
        if self.token is not None:
            fds["token"] = self.token.fileno()
        return fds

    def stdin_fd(self) -> int:
        fd = self.parent_fds["stdin"]
        assert fd is not None
        return fd

    def close_stdin(self) -> None:
        fd = self.parent_fds.get("stdin")
        if fd is not None:
            os.close(fd)
            self.parent_fds["stdin"] = None

    def close_parent_ends(self) -> None:
        for name, fd in self.parent_fds.items():
            if fd is not None:
                os.close(fd)
                self.parent_fds[name] = None
        if self.token is not None:
            self.token.close()


def _reset_std_streams() -> None:
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    raw_stderr = open(2, "wb", buffering=0, closefd=False)  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(raw_stderr, encoding="utf-8", write_through=True)
