"""What each process may do: a case's rlimits, the drop to the program's uid, and the
harness's own hardening (non-dumpable, and a child subreaper).
"""

from __future__ import annotations

import ctypes
import os
import resource

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.protocol import Header

# bundle: strip-end


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def set_case_limits(header: Header) -> None:
    """rlimits of one case: CPU seconds, address space, file size, files, processes, no core."""
    limits = {
        resource.RLIMIT_CPU: (header.cpu_limit_s, header.cpu_limit_s + 1),
        resource.RLIMIT_AS: (header.address_space_bytes,) * 2,
        resource.RLIMIT_FSIZE: (header.file_size_limit_bytes,) * 2,
        resource.RLIMIT_NOFILE: (64, 64),
        resource.RLIMIT_CORE: (0, 0),
    }
    if header.drop_uid is not None and os.getuid() == 0:
        limits[resource.RLIMIT_NPROC] = (header.process_limit,) * 2
    for name, value in limits.items():
        resource.setrlimit(name, value)


def drop_privileges(header: Header) -> None:
    """Become the program's uid when the harness runs as root (Docker), else stay as is."""
    uid = header.drop_uid
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def harden_harness() -> None:
    """Non-dumpable (no /proc access to our memory or fds by the program's uid) and a child
    subreaper (every orphan of a case comes back to us); refuse to judge without either."""
    libc = ctypes.CDLL(None, use_errno=True)
    for option, value in ((PR_SET_DUMPABLE, 0), (PR_SET_CHILD_SUBREAPER, 1)):
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")
