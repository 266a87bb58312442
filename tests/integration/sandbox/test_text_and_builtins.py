"""Two hostile classes through both real backends, each written as a matrix over its class.

- Every string that leaves the sandbox is valid, storable Unicode, whichever channel the program
  put its text in (exception type, message, frames, forged reports, output, values).
- Sandbox-judged test code resolves builtins from the real builtins: however the program rebinds
  one (at module level, in the `builtins` module, or while the test runs), the test still tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import Problem, Sandbox, Verdict
from sandbox.results import SuiteResult

pytestmark = [pytest.mark.docker, pytest.mark.bwrap]

# Text no UTF-8 encoder accepts (lone surrogates) and text PostgreSQL refuses (NUL), built at run
# time so that the program's own source stays valid.
BAD = "chr(0xD800) + 'x' + chr(0xDFFF) + chr(0)"

# Each channel a program's text can reach the result through; every program fails its test.
TEXT_CHANNELS: dict[str, tuple[str, str]] = {
    "exception_message": (f"def f(x):\n    raise ValueError({BAD})\n", "assert f(1) == 2"),
    "exception_type_name": (
        f"def f(x):\n    raise type('E' + {BAD}, (Exception,), {{}})()\n",
        "assert f(1) == 2",
    ),
    "frame_function_name": (
        "def g(x):\n    raise ValueError('no')\n"
        f"g.__code__ = g.__code__.replace(co_name='g' + {BAD})\n"
        "def f(x):\n    return g(x)\n",
        "assert f(1) == 2",
    ),
    "sandbox_judged_message": (
        f"def f(x):\n    raise KeyError({BAD})\n",
        "for x in [1]:\n    assert f(x) == 2",
    ),
    "sandbox_judged_mismatch": (
        f"def f(x):\n    return {BAD}\n",
        "for x in [1]:\n    assert f(x) == 2",
    ),
    "host_judged_value": (f"def f(x):\n    return {BAD}\n", "assert f(1) == 2"),
    "forged_report": (
        "import os, json\n"
        "def f(x):\n"
        f"    bad = {BAD}\n"
        "    error = {'type': bad, 'message': bad, 'frames': [{'line': 1, 'function': bad}]}\n"
        "    os.write(3, (json.dumps({'error': error}) + '\\n').encode())\n"
        "    os._exit(1)\n",
        "for x in [1]:\n    assert f(x) == 2",
    ),
    "stderr_bytes": (
        "import os\ndef f(x):\n"
        "    os.write(2, b'\\xed\\xa0\\x80\\xff\\x00 broken')\n    return 1\n",
        "assert f(1) == 2",
    ),
}


def assert_storable(value: Any) -> None:
    """Every string in a result's data encodes as UTF-8 and holds no NUL."""
    if isinstance(value, str):
        value.encode("utf-8")
        assert "\x00" not in value, value
    elif isinstance(value, dict):
        for item in value.values():
            assert_storable(item)
    elif isinstance(value, list):
        for item in value:
            assert_storable(item)


def assert_problem(code: str) -> Problem:
    return Problem.model_validate(
        {
            "title": "t",
            "statement": "s",
            "tests": {"kind": "assert", "entry_point": "f", "public": [{"code": code}]},
        }
    )


def stdio_problem() -> Problem:
    return Problem.model_validate(
        {
            "title": "t",
            "statement": "s",
            "tests": {"kind": "stdio", "public": [{"input": "", "output": "ok"}]},
        }
    )


@pytest.mark.parametrize("channel", sorted(TEXT_CHANNELS))
def test_program_text_leaves_as_valid_unicode(any_sandbox: Sandbox, channel: str) -> None:
    program, code = TEXT_CHANNELS[channel]
    result = any_sandbox.run_suite(program, assert_problem(code))
    assert result.verdict in (Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR), result
    assert_storable(result.model_dump())
    SuiteResult.model_validate_json(result.model_dump_json().encode("utf-8"))


def test_stdout_and_stderr_bytes_leave_as_valid_unicode(any_sandbox: Sandbox) -> None:
    program = (
        "import sys\n"
        "sys.stdout.buffer.write(b'\\xed\\xa0\\x80\\x00\\xff')\n"
        "sys.stderr.buffer.write(b'\\xed\\xa0\\x80\\x00\\xff')\n"
    )
    result = any_sandbox.run_suite(program, stdio_problem())
    assert result.verdict is Verdict.WRONG_ANSWER
    assert_storable(result.model_dump())
    assert "\ufffd" in result.cases[0].actual_excerpt


# builtin -> (a test that uses it, a replacement that would make that test pass vacuously)
BUILTIN_USES: dict[str, tuple[str, str]] = {
    "range": ("for i in range(3):\n    assert f(i) == i + 1", "lambda *a: []"),
    "all": ("assert all(f(i) == i + 1 for i in [0, 1, 2])", "lambda *a: True"),
    "any": ("assert not any(f(i) != i + 1 for i in [0, 1, 2])", "lambda *a: False"),
    "len": ("for _ in [0]:\n    assert len([i for i in [0, 1] if f(i) == i + 1]) == 2", "len"),
    "zip": ("for i, want in zip([0, 1], [1, 2]):\n    assert f(i) == want", "lambda *a: []"),
    "enumerate": ("for i, want in enumerate([1, 2]):\n    assert f(i) == want", "lambda *a: []"),
}
# How the program rebinds `{name}` to `{fake}` (`len` is faked as `lambda *a: 2`).
REBINDINGS = {
    "module_global": "{name} = {fake}\n",
    "builtins_module": "import builtins\nbuiltins.{name} = {fake}\n",
    "during_the_test": "import builtins\n_first = [True]\n",
}


def rebinding_program(way: str, name: str, body: str) -> str:
    fake = "lambda *a: 2" if name == "len" else BUILTIN_USES[name][1]
    prefix = REBINDINGS[way].format(name=name, fake=fake)
    if way == "during_the_test":
        # The first call rebinds the builtin, while the test code is already running.
        body = body.replace(
            "def f(i):\n",
            f"def f(i):\n    if _first.pop() if _first else False:\n"
            f"        builtins.{name} = {fake}\n"
            f"        globals()['{name}'] = {fake}\n",
        )
    return prefix + body


@pytest.mark.parametrize("way", sorted(REBINDINGS))
@pytest.mark.parametrize("name", sorted(BUILTIN_USES))
def test_sandbox_judged_tests_use_the_real_builtins(
    any_sandbox: Sandbox, name: str, way: str
) -> None:
    problem = assert_problem(BUILTIN_USES[name][0])
    wrong = rebinding_program(way, name, "def f(i):\n    return i\n")
    result = any_sandbox.run_suite(wrong, problem)
    assert result.cases[0].judged == "sandbox"
    assert result.verdict is Verdict.WRONG_ANSWER, result
    right = rebinding_program(way, name, "def f(i):\n    return i + 1\n")
    assert any_sandbox.run_suite(right, problem).verdict is Verdict.ACCEPTED
