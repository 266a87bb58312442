"""The in-sandbox harness: its pure functions imported directly, and one run of it on the host.

The run on the host uses no scratch dirs to scrub (the harness empties whatever it is given)
and the default `group` kill scope, so nothing outside the case's own process group is touched.
"""

from __future__ import annotations

import contextlib
import decimal
import json
import linecache
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import harness
from sandbox.backends.base import HARNESS_SOURCE
from sandbox.judge import (
    HarnessOptions,
    JudgedCase,
    Record,
    assemble,
    build_request,
    frame,
    parse_records,
)
from sandbox.limits import Limits
from sandbox.problem import (
    AssertCase,
    AssertTests,
    FunctionalCase,
    FunctionalTests,
    StdioCase,
    StdioTests,
    Tests,
)
from sandbox.results import SuiteResult, Verdict


@pytest.fixture(autouse=True)
def no_mismatches() -> Iterator[None]:
    harness.MISMATCHES.clear()
    yield
    harness.MISMATCHES.clear()


# --- objects that lie ------------------------------------------------------------------------


class LyingInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__

    def __int__(self) -> int:
        return 99


class LyingFloat(float):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = float.__hash__

    def __float__(self) -> float:
        return 99.0


class LyingStr(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return "lie"


class LyingList(list[Any]):
    def __eq__(self, other: object) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        return iter(["lie"])


class LyingDict(dict[Any, Any]):
    def __eq__(self, other: object) -> bool:
        return True

    def items(self) -> Any:
        return [("lie", "lie")]


class LyingComplex(complex):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = complex.__hash__


class PoseAsInt:
    """Claims to be an int through `__class__`, which `isinstance` believes."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return int

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class PoseAsList(PoseAsInt):
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return list


class PoseAsStr(PoseAsInt):
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return str


class PoseAsDict(PoseAsInt):
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return dict


# --- launder ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (LyingInt(5), 5),
        (LyingFloat(2.5), 2.5),
        (LyingStr("abc"), "abc"),
        (LyingList([1, LyingInt(2)]), [1, 2]),
        (LyingDict({LyingStr("k"): LyingInt(1)}), {"k": 1}),
        (LyingComplex(1, 2), complex(1, 2)),
        ((LyingInt(1), [LyingStr("x")]), (1, ["x"])),
        ({LyingInt(3)}, {3}),
        (frozenset({LyingStr("y")}), frozenset({"y"})),
        (b"raw", b"raw"),
    ],
)
def test_launder_rebuilds_exact_builtins_with_true_values(value: Any, truth: Any) -> None:
    laundered = harness.launder(value)
    assert same_shape(laundered, truth)


def same_shape(left: Any, right: Any) -> bool:
    """Equal, with exactly the same types all the way down."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same_shape, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_shape(left[k], right[k]) for k in left)
    if isinstance(left, set | frozenset):
        return all(type(v) in (int, str, float) for v in left) and left == right
    return bool(left == right) or (left != left and right != right)  # nan


def test_launder_keeps_singletons_and_exact_immutables() -> None:
    value = decimal.Decimal("1.10")
    assert harness.launder(value) is value
    assert harness.launder(range(3)) == range(3)
    for singleton in (None, True, False):
        assert harness.launder(singleton) is singleton


@pytest.mark.parametrize(
    "value",
    [PoseAsInt(), PoseAsList(), PoseAsStr(), PoseAsDict(), [1, PoseAsInt()], object()],
    ids=["int", "list", "str", "dict", "nested", "object"],
)
def test_launder_refuses_objects_that_pose_as_builtins(value: Any) -> None:
    with pytest.raises(TypeError):
        harness.launder(value)


def test_launder_refuses_subclasses_of_exact_immutables() -> None:
    class Sneaky(decimal.Decimal):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = decimal.Decimal.__hash__

    with pytest.raises(TypeError):
        harness.launder(Sneaky("1"))


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def test_launder_limits_depth() -> None:
    assert harness.launder(nested(150)) == nested(150)
    with pytest.raises(ValueError, match="deeper than 200"):
        harness.launder(nested(250))


json_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(json_data)
def test_laundering_json_data_is_exact_and_idempotent(value: Any) -> None:
    once = harness.launder(value)
    assert same_shape(once, value)
    assert same_shape(harness.launder(once), once)


# --- strict_equal ----------------------------------------------------------------------------


def test_strict_equal_compares_true_values() -> None:
    assert harness.strict_equal([1, (2, "x")], [1, (2, "x")]) is True
    assert harness.strict_equal(LyingInt(3), 4) is False
    assert harness.strict_equal(LyingList([1]), ["lie"]) is False
    assert harness.MISMATCHES == [("3", "4"), ("[1]", "['lie']")]


@pytest.mark.parametrize(
    "value", [object(), PoseAsInt(), nested(300), iter([1])], ids=["object", "pose", "deep", "iter"]
)
def test_strict_equal_refuses_what_is_not_plain_data(value: Any) -> None:
    with pytest.raises(AssertionError, match="cannot compare"):
        harness.strict_equal(value, value)


def test_strict_equal_cuts_long_mismatches() -> None:
    assert not harness.strict_equal("a" * 5000, "b")
    actual, expected = harness.MISMATCHES[-1]
    assert len(actual) == 1000
    assert expected == "'b'"


# --- compile_tests ---------------------------------------------------------------------------


TESTS = """
assert f(1) == 2
assert f(2) != 5
def check(candidate):
    assert candidate(3) == 4
    flag = 1 < 2 == 2
    assert flag
check(f)
"""


def test_compile_tests_routes_equality_through_the_namespaces_equal() -> None:
    calls: list[tuple[Any, Any]] = []

    def recording_equal(left: Any, right: Any) -> bool:
        calls.append((left, right))
        return bool(left == right)

    namespace = {"f": lambda x: x + 1, "__retrospect_equal__": recording_equal}
    code = harness.compile_tests(TESTS)
    assert code.co_filename == harness.TEST_FILE
    exec(code, namespace)
    assert calls == [(2, 2), (3, 5), (4, 4)]  # the chained comparison was left alone


def test_compiled_tests_are_not_fooled_by_a_lying_eq() -> None:
    namespace = {"f": lambda x: LyingInt(x), "__retrospect_equal__": harness.strict_equal}
    with pytest.raises(AssertionError):
        exec(harness.compile_tests("assert f(1) == 2"), namespace)
    with pytest.raises(AssertionError):
        exec(harness.compile_tests("assert not (f(1) != 2)"), namespace)
    exec(harness.compile_tests("assert f(1) == 1\nassert f(1) != 2"), namespace)


def test_compile_tests_keeps_line_numbers() -> None:
    namespace = {"__retrospect_equal__": harness.strict_equal}
    with pytest.raises(AssertionError) as caught:
        exec(harness.compile_tests("x = 1\n\nassert x == 2\n"), namespace)
    assert harness.describe_error(caught.value)["frames"][-1]["line"] == 3


# --- describe_error --------------------------------------------------------------------------


PROGRAM = """
def f(n):
    if n == 0:
        raise ValueError("boom")
    return f(n - 1)
"""


def raised(source: str, filename: str, call: str, monkeypatch: pytest.MonkeyPatch) -> BaseException:
    """What `call` raises after `source` ran, with the source in linecache as the harness has it."""
    lines = source.splitlines(True)
    monkeypatch.setitem(linecache.cache, filename, (len(source), None, lines, filename))
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    try:
        exec(compile(call, harness.TEST_FILE, "exec"), namespace)
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def test_describe_error_keeps_the_last_three_program_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    described = harness.describe_error(raised(PROGRAM, harness.PROGRAM_FILE, "f(5)", monkeypatch))
    assert described["type"] == "ValueError"
    assert described["message"] == "boom"
    assert described["frames"] == [
        {"line": 5, "function": "f", "code": "return f(n - 1)"},
        {"line": 5, "function": "f", "code": "return f(n - 1)"},
        {"line": 4, "function": "f", "code": 'raise ValueError("boom")'},
    ]


def test_describe_error_leaves_out_frames_of_other_files(monkeypatch: pytest.MonkeyPatch) -> None:
    described = harness.describe_error(raised(PROGRAM, "other.py", "f(0)", monkeypatch))
    assert [f["function"] for f in described["frames"]] == ["<module>"]  # Test.py's call only


def test_describe_error_places_a_syntax_error_in_the_program() -> None:
    with pytest.raises(SyntaxError) as caught:
        compile("x = 1\ndef f(:\n", harness.PROGRAM_FILE, "exec")
    described = harness.describe_error(caught.value)
    assert described["type"] == "SyntaxError"
    assert described["frames"] == [{"line": 2, "function": "<module>", "code": "def f(:"}]


def test_describe_error_adds_the_last_mismatch_to_an_assertion() -> None:
    harness.strict_equal([1], [2])
    described = harness.describe_error(AssertionError())
    assert (described["actual"], described["expected"]) == ("[1]", "[2]")
    assert "actual" not in harness.describe_error(ValueError("x" * 5000))


def test_describe_error_cuts_long_messages() -> None:
    assert len(harness.describe_error(ValueError("x" * 5000))["message"]) == 2000


# --- resolve_entry ---------------------------------------------------------------------------


class Solution:
    def __init__(self) -> None:
        self.offset = 10

    def add(self, x: int) -> int:
        return x + self.offset


def test_resolve_entry_finds_functions_and_methods_of_fresh_instances() -> None:
    def f(x: int) -> int:
        return x * 2

    namespace: dict[str, Any] = {"f": f, "Solution": Solution, "n": 3}
    assert harness.resolve_entry(namespace, "f") is f
    assert harness.resolve_entry(namespace, "Solution.add")(1) == 11
    with pytest.raises(NameError, match="'g'"):
        harness.resolve_entry(namespace, "g")
    with pytest.raises(TypeError, match="not callable"):
        harness.resolve_entry(namespace, "n")
    with pytest.raises(AttributeError):
        harness.resolve_entry(namespace, "Solution.missing")


# --- read_frame ------------------------------------------------------------------------------


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):  # already closed by the test
            os.close(fd)


def test_read_frame_reads_exactly_one_frame(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    first, second = frame({"kind": "stdio", "n": 1}), frame({"code": "assert True"})
    os.write(write_fd, first + second)
    os.close(write_fd)
    assert harness.read_frame(read_fd) == {"kind": "stdio", "n": 1}
    assert os.read(read_fd, 1 << 16) == second  # nothing of the next frame was read ahead


def test_read_frame_says_when_the_stream_ends_between_frames(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    os.close(write_fd)
    with pytest.raises(EOFError):
        harness.read_frame(read_fd)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"12", "malformed frame header"),
        (b"1234567890123456\n{}", "malformed frame header"),
        (b"abc\n{}", "invalid literal"),
        (b"10\n{}", "truncated frame"),
        (b"2\n[]", "JSON object"),
    ],
)
def test_read_frame_refuses_malformed_frames(
    pipe: tuple[int, int], data: bytes, message: str
) -> None:
    read_fd, write_fd = pipe
    os.write(write_fd, data)
    os.close(write_fd)
    with pytest.raises(ValueError, match=message):
        harness.read_frame(read_fd)


# --- the harness end to end, on the host -----------------------------------------------------


def run_harness(
    program: str, tests: Tests, workdir: Path, limits: Limits | None = None
) -> tuple[dict[int, Record], Record | None, SuiteResult]:
    """Run the harness under the host's Python, unprivileged in scope: nothing to scrub."""
    limits = limits or Limits(time_limit_s=2.0)
    options = HarnessOptions(drop_uid=None, scrub_dirs=(), workdir=str(workdir))
    cases = [JudgedCase(i, False, c) for i, c in enumerate(tests.cases("public"))]
    request = build_request(program, tests, cases, limits, options)
    assert b'"scrub_dirs": []' in request  # the harness deletes whatever is listed there
    completed = subprocess.run(
        [sys.executable, "-I", "-c", HARNESS_SOURCE],
        input=request,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    records, closing = parse_records(completed.stdout)
    return records, closing, assemble(cases, records, tests, limits, wall_s=0.0)


def test_harness_runs_stdio_cases(tmp_path: Path) -> None:
    tests = StdioTests(
        public=[StdioCase(input="2 3\n", output="5"), StdioCase(input="1 1\n", output="3")]
    )
    program = "import os\na, b = map(int, input().split())\nprint(a + b)\nprint(os.getcwd())\n"
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing == {"done": True, "clean_before": True, "clean_after": True}
    assert records[0]["stdout"] == f"5\n{tmp_path}\n"
    assert records[1]["stdout"] == f"2\n{tmp_path}\n"
    for index, record in records.items():
        assert record["index"] == index
        assert record["status"] == "exited"
        assert record["exit_code"] == 0
        assert record["completed"] is False
        assert "value" not in record
        assert "error" not in record
    assert [c.verdict for c in result.cases] == [Verdict.WRONG_ANSWER, Verdict.WRONG_ANSWER]


def test_harness_runs_functional_cases(tmp_path: Path) -> None:
    program = """
class Liar(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def f(a, b=0):
    if a < 0:
        raise ZeroDivisionError("negative")
    return [Liar(a + b), (a, b), {"k": b}]
"""
    public = [
        FunctionalCase(args=[1], kwargs={"b": 2}, expected=[3, [1, 2], {"k": 2}]),
        FunctionalCase(args=[1], expected=[99, [1, 0], {"k": 0}]),
        FunctionalCase(args=[-1], expected=None),
    ]
    tests = FunctionalTests(entry_point="f", public=public)
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing is not None
    assert records[0]["value"] == [3, [1, 2], {"k": 2}]
    assert records[1]["value"] == [1, [1, 0], {"k": 0}]  # the liar's true value
    assert "value" not in records[2]
    assert records[2]["error"]["type"] == "ZeroDivisionError"
    assert records[2]["error"]["frames"][-1]["code"] == 'raise ZeroDivisionError("negative")'
    assert records[2]["exit_code"] == 1
    verdicts = [c.verdict for c in result.cases]
    assert verdicts == [Verdict.ACCEPTED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR]


def test_harness_runs_assert_cases(tmp_path: Path) -> None:
    program = "def f(x):\n    return x + 1\n"
    public = [
        AssertCase(code="assert f(1) == 2"),
        AssertCase(code="x = 0\nassert f(1) == 3"),
        AssertCase(code="def check(candidate):\n    assert candidate(2) == 3\n"),
        AssertCase(code="assert g(1) == 2"),
    ]
    tests = AssertTests(entry_point="f", public=public)
    records, _, result = run_harness(program, tests, tmp_path)
    assert [records[i]["completed"] for i in range(4)] == [True, False, True, False]
    failure = records[1]["error"]
    assert failure["type"] == "AssertionError"
    assert (failure["actual"], failure["expected"]) == ("2", "3")
    assert failure["frames"] == [{"line": 2, "function": "<module>", "code": "assert f(1) == 3"}]
    assert records[3]["error"]["type"] == "NameError"
    verdicts = [c.verdict for c in result.cases]
    assert verdicts == [
        Verdict.ACCEPTED,
        Verdict.WRONG_ANSWER,
        Verdict.ACCEPTED,
        Verdict.RUNTIME_ERROR,
    ]
    assert result.cases[1].input_excerpt == "assert f(1) == 3"


def test_harness_does_not_accept_a_program_that_exits_before_the_tests(tmp_path: Path) -> None:
    program = "import sys\nprint('{\"completed\": true}')\nsys.exit(0)\n"
    tests = AssertTests(public=[AssertCase(code="assert False")])
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing is not None
    assert records[0]["exit_code"] == 0
    assert records[0]["completed"] is False
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_harness_reports_a_compile_error_for_every_case(tmp_path: Path) -> None:
    tests = StdioTests(public=[StdioCase(output="1"), StdioCase(output="2")])
    records, closing, result = run_harness("def f(:\n", tests, tmp_path)
    assert closing is not None
    assert [records[i]["status"] for i in range(2)] == ["compile_error"] * 2
    assert records[0]["error"]["frames"] == [{"line": 1, "function": "<module>", "code": "def f(:"}]
    assert result.verdict is Verdict.COMPILE_ERROR


def test_harness_cuts_an_output_flood(tmp_path: Path) -> None:
    limits = Limits(time_limit_s=2.0, output_limit_bytes=1000)
    tests = StdioTests(public=[StdioCase(output="x")])
    records, closing, result = run_harness(
        "while True:\n    print('x' * 100)\n", tests, tmp_path, limits
    )
    assert closing is not None
    assert records[0]["status"] == "output_limit"
    assert len(records[0]["stdout"]) == 1000
    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert json.dumps(records[0])  # the record stays plain JSON
