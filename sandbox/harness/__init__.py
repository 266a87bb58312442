"""The in-sandbox runner: stdlib only, executed as `python3 -I -c <bundle> [--serve]
[--box-tmpfs-mb N]`.

The wire format is in `sandbox/protocol.py`. Expected values never reach this process for
stdio, functional and host-judged assert cases: it reports what the program printed, returned
or what each probe evaluated to, and the host compares. Only sandbox-judged assert cases (test
code the host could not compile) run their whole test code here, and docs/sandbox.md says what
such a case can be fooled by.

The harness makes itself non-dumpable (so a program sharing its uid cannot open its memory or
file descriptors through /proc) and a child subreaper (so every descendant of a case, reaped or
not, comes back to it and its CPU time is charged to that case). Each case runs in a forked
child that drops to an unprivileged uid when the harness runs as root, gets its own session,
rlimits and pipes, and a seccomp filter (no namespaces, mounts or children the kernel reaps on
its own), and reports through a pipe of its own. After each case every process of the case is
killed whatever its state; after the attempt the scratch dirs are emptied and checked, together
with SysV IPC and POSIX message queues, so nothing is left for the next attempt. With
`--box-tmpfs-mb` (Docker) the cases run in a box whose init makes it new before each attempt
instead (`box`).

In the sandbox the harness is one program: `sandbox.backends.base.bundle_harness` joins the
protocol and these modules, in the order of its `HARNESS_FILES`, into one source, leaving out
each module's imports of the package (between `# bundle: strip-start` and `# bundle:
strip-end`), whose names the modules before it define. On the host (unit tests) the modules
import one another, and this package re-exports what the tests use. In bundle order:

- `pinned`: the harness's own names for builtins a program could replace, bound first
- `values`: laundering a program's values into exact builtin types
- `strict`: sandbox-judged test code, rewritten onto laundered operands, in its own namespace
- `program`: the case process (the program's side): runs the program and its case, reports
- `privileges`: a case's rlimits, the drop to the program's uid, the harness's own hardening
- `syscalls`: the program's seccomp filter
- `cleanup`: killing what the program left, emptying the scratch dirs, proving the box clean
- `box`: the Docker box's init: its own pid and mount namespaces, made new for each attempt
- `case`: the harness's side of one case: fork, feed, drain, reap, its raw record
- `main`: the main loop: request frames in, one record per case and a closing record out
"""

from sandbox.harness.case import SETUP_FAILED_EXIT, CaseRun
from sandbox.harness.cleanup import kill_program_processes, proven_clean, scrub_scratch_dirs
from sandbox.harness.main import main, read_frame, run_attempt
from sandbox.harness.program import CaseProcess, describe_error, resolve_entry, run_steps
from sandbox.harness.strict import (
    MISMATCHES,
    STRICT_HELPERS,
    compile_tests,
    strict_compare,
    strict_equal,
)
from sandbox.harness.values import launder

__all__ = [
    "MISMATCHES",
    "SETUP_FAILED_EXIT",
    "STRICT_HELPERS",
    "CaseProcess",
    "CaseRun",
    "compile_tests",
    "describe_error",
    "kill_program_processes",
    "launder",
    "main",
    "proven_clean",
    "read_frame",
    "resolve_entry",
    "run_attempt",
    "run_steps",
    "scrub_scratch_dirs",
    "strict_compare",
    "strict_equal",
]
