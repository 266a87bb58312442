"""A fault the program causes is the program's verdict, never the sandbox's, on both backends.

- Leftovers that could defeat the end-of-attempt clean-up (a tree deeper than any path, a
  directory it made unreadable, many entries, special files, links out of the box): the attempt
  gets the program's own verdict, and the next attempt in the same sandbox starts empty.
- Output at every cap at once, in the characters that escape the most: the harness's records
  stay within what the backend reads (never an overflow, which is the sandbox's fault).
"""

from __future__ import annotations

import pytest

from sandbox import Limits, Problem, Sandbox, Verdict

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

SCRATCH = ("/tmp", "/dev/shm")
LEFTOVERS = {
    "deep_tree": (
        "import os\nfor root in {roots}:\n    try:\n        os.chdir(root)\n"
        "        for _ in range(3000):\n            os.mkdir('d')\n            os.chdir('d')\n"
        "    except OSError:\n        pass\n"
    ),
    "unreadable_dirs": (
        "import os\nfor root in {roots}:\n    try:\n        os.makedirs(root + '/a/b/c')\n"
        "        open(root + '/a/b/c/f', 'w').write('x')\n"
        "        for d in ('/a/b/c', '/a/b', '/a'):\n            os.chmod(root + d, 0)\n"
        "    except OSError:\n        pass\n"
    ),
    "many_entries": (
        "import os\nfor root in {roots}:\n    try:\n        for i in range(5000):\n"
        "            open(f'{{root}}/f{{i}}', 'w').close()\n"
        "        for i in range(500):\n            os.mkdir(f'{{root}}/d{{i}}')\n"
        "    except OSError:\n        pass\n"
    ),
    "special_files": (
        "import os, socket\nfor root in {roots}:\n    try:\n        os.mkfifo(root + '/fifo')\n"
        "        s = socket.socket(socket.AF_UNIX)\n        s.bind(root + '/sock')\n"
        "        os.symlink('/', root + '/root')\n"
        "        os.symlink(root + '/loop', root + '/loop')\n"
        "    except OSError:\n        pass\n"
    ),
    "scratch_root_locked": (
        "import os\nfor root in {roots}:\n    try:\n        open(root + '/x', 'w').write('x')\n"
        "        os.chmod(root, 0)\n    except OSError:\n        pass\n"
    ),
}
CHECK_EMPTY = (
    "import os\nleft = []\nfor root in {roots}:\n    try:\n        left += os.listdir(root)\n"
    "    except OSError as exc:\n        left.append(str(exc))\n"
    "print('empty' if not left else left)\n"
)


def stdio_problem(output: str, cases: int = 1) -> Problem:
    public = [{"input": "", "output": output}] * cases
    return Problem.model_validate(
        {"title": "t", "statement": "s", "tests": {"kind": "stdio", "public": public}}
    )


@pytest.mark.parametrize("leftover", sorted(LEFTOVERS))
def test_leftovers_never_make_a_sandbox_error(any_sandbox: Sandbox, leftover: str) -> None:
    program = LEFTOVERS[leftover].format(roots=SCRATCH) + "print('done')\n"
    # Two cases: the second runs after the first's leftovers, the clean-up after both.
    result = any_sandbox.run_suite(program, stdio_problem("done", cases=2))
    assert result.verdict is Verdict.ACCEPTED, result
    after = any_sandbox.run_suite(CHECK_EMPTY.format(roots=SCRATCH), stdio_problem("empty"))
    assert after.verdict is Verdict.ACCEPTED, after.cases[0].actual_excerpt


def test_every_output_cap_at_once_stays_the_programs_verdict(any_sandbox: Sandbox) -> None:
    base = any_sandbox.base_limits
    limits = Limits(
        output_limit_bytes=256 * 1024,
        attempt_output_limit_bytes=512 * 1024,
        stderr_limit_bytes=64 * 1024,
    )
    any_sandbox.base_limits = limits
    try:
        # Control characters escape to six bytes each in the records; every case prints its
        # whole share of the attempt's output, and its whole stderr allowance.
        # stderr first: a case past the attempt's output budget is cut at its first byte.
        program = (
            "import os\nos.write(2, b'\\x01' * 64 * 1024)\nos.write(1, b'\\x01' * 256 * 1024)\n"
        )
        result = any_sandbox.run_suite(program, stdio_problem("x", cases=8))
    finally:
        any_sandbox.base_limits = base
    assert result.verdict in (Verdict.WRONG_ANSWER, Verdict.OUTPUT_LIMIT), result.detail
    assert all(case.verdict is not Verdict.SANDBOX_ERROR for case in result.cases)
