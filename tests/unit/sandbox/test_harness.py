"""The in-sandbox harness: its pure functions imported directly, and one run of it on the host.

The run on the host uses no scratch dirs to scrub (the harness empties whatever it is given)
and the default `group` kill scope, so nothing outside the case's own process group is touched.
"""

from __future__ import annotations

import contextlib
import decimal
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

from sandbox import harness, protocol
from sandbox.backends.base import HARNESS_SOURCE
from sandbox.harness import cleanup, strict
from sandbox.judge import (
    HarnessOptions,
    assemble,
    build_header,
    build_request,
    frame,
    judged_case,
    parse_records,
)
from sandbox.limits import Limits
from sandbox.problem import (
    AssertCase,
    AssertTests,
    Case,
    FunctionalCase,
    FunctionalTests,
    StdioCase,
    StdioTests,
    Tests,
)
from sandbox.protocol import MAX_VALUE_DEPTH
from sandbox.records import CaseRecord, Closing
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
    assert harness.launder(nested(MAX_VALUE_DEPTH - 5)) == nested(MAX_VALUE_DEPTH - 5)
    with pytest.raises(ValueError, match=f"deeper than {MAX_VALUE_DEPTH}"):
        harness.launder(nested(MAX_VALUE_DEPTH + 50))


def test_launder_does_not_ask_a_metaclass_whether_a_type_is_exact() -> None:
    class Meta(type):
        def __eq__(cls, other: object) -> bool:
            return True

        __hash__ = type.__hash__

    class Fake(metaclass=Meta):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    assert Fake == decimal.Decimal  # what `type(value) in EXACT_TYPES` would have believed
    with pytest.raises(TypeError):
        harness.launder(Fake())


def test_launder_consumes_builtin_iterators_only_when_asked() -> None:
    laundered = harness.launder((i for i in (2, 1)), iterators=True)
    assert list(laundered) == [2, 1]
    with pytest.raises(TypeError):
        harness.launder(iter([1]))


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


def strict_namespace(**names: Any) -> dict[str, Any]:
    return dict(names)


def test_compile_tests_routes_every_comparison_through_the_strict_helpers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, Any]] = []
    original = harness.strict_compare

    def recording_compare(left: Any, pairs: list[tuple[str, Any]]) -> bool:
        calls.append((left, pairs))
        return original(left, pairs)

    monkeypatch.setitem(
        strict._BY_MARK, strict._HELPER_MARK + "__retrospect_compare__", recording_compare
    )
    code = harness.compile_tests(TESTS)
    assert code.co_filename == protocol.TEST_FILE
    exec(code, strict_namespace(f=lambda x: x + 1))
    assert calls == [
        (2, [("Eq", 2)]),
        (3, [("NotEq", 5)]),
        (4, [("Eq", 4)]),
        (1, [("Lt", 2), ("Eq", 2)]),
    ]


def test_the_program_cannot_rebind_the_helpers_while_the_tests_run() -> None:
    def f() -> int:
        for name in list(namespace):
            namespace[name] = lambda *args: True
        namespace.update({n: (lambda *args: True) for n in harness.STRICT_HELPERS})
        return 1

    namespace: dict[str, Any] = {"f": f}
    with pytest.raises(AssertionError):
        exec(harness.compile_tests("assert f() == 2"), namespace)


@pytest.mark.parametrize(
    "test",
    [
        "assert f(1) == 2",
        "assert not (f(1) != 2)",
        "assert 2 in [f(1)]",
        "assert abs(f(1) - 2) < 0.5",
        "assert f(1) > 1",
        "assert f(1) and f(1) == 2",
    ],
)
def test_compiled_tests_never_ask_the_programs_objects(test: str) -> None:
    class Yes:
        def __eq__(self, other: object) -> bool:
            return True

        def __sub__(self, other: object) -> int:
            return 0

        def __gt__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    for liar in (LyingInt(1), Yes()):
        with pytest.raises(AssertionError):
            exec(harness.compile_tests(test), strict_namespace(f=lambda x, v=liar: v))


def test_compiled_tests_pass_honest_values() -> None:
    exec(
        harness.compile_tests("assert f(1) == 1\nassert f(1) != 2"),
        strict_namespace(f=lambda x: LyingInt(x)),  # judged by the value it really holds
    )
    exec(harness.compile_tests("assert type(f(1)) == int"), strict_namespace(f=lambda x: x))


def test_compile_tests_keeps_line_numbers() -> None:
    namespace = strict_namespace()
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
        exec(compile(call, protocol.TEST_FILE, "exec"), namespace)
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def test_describe_error_keeps_the_last_three_program_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    described = harness.describe_error(raised(PROGRAM, protocol.PROGRAM_FILE, "f(5)", monkeypatch))
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
        compile("x = 1\ndef f(:\n", protocol.PROGRAM_FILE, "exec")
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
) -> tuple[dict[int, CaseRecord], Closing | None, SuiteResult]:
    """Run the harness under the host's Python, unprivileged in scope: nothing to scrub."""
    limits = limits or Limits(time_limit_s=2.0)
    options = HarnessOptions(drop_uid=None, scrub_dirs=(), workdir=str(workdir))
    public: list[Case] = list(tests.public)
    cases = [judged_case(i, False, c, tests.entry_point) for i, c in enumerate(public)]
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
    records, closing = parse_records(completed.stdout, limits)
    result = assemble(cases, records, tests, limits, 0.0, "", closing is not None)
    return records, closing, result


def test_harness_runs_stdio_cases(tmp_path: Path) -> None:
    tests = StdioTests(
        public=[StdioCase(input="2 3\n", output="5"), StdioCase(input="1 1\n", output="3")]
    )
    program = "import os\na, b = map(int, input().split())\nprint(a + b)\nprint(os.getcwd())\n"
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing == Closing(clean_before=True, clean_after=True)
    assert records[0].stdout == f"5\n{tmp_path}\n"
    assert records[1].stdout == f"2\n{tmp_path}\n"
    for index, record in records.items():
        assert record.index == index
        assert (record.status, record.exit_code, record.malformed) == ("exited", 0, "")
        assert not record.report.has_value
        assert record.report.error is None
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
    assert records[0].report.value == [3, [1, 2], {"k": 2}]
    assert records[1].report.value == [1, [1, 0], {"k": 0}]  # the liar's true value
    assert not records[2].report.has_value
    failure = records[2].report.error
    assert failure is not None
    assert failure["type"] == "ZeroDivisionError"
    assert failure["frames"][-1]["code"] == 'raise ZeroDivisionError("negative")'
    assert records[2].exit_code == 1
    verdicts = [c.verdict for c in result.cases]
    assert verdicts == [Verdict.ACCEPTED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR]


def test_harness_runs_assert_cases(tmp_path: Path) -> None:
    program = "def f(x):\n    return x + 1\n"
    public = [
        AssertCase(code="assert f(1) == 2"),
        AssertCase(code="x = 0\nassert f(1) == 3"),
        AssertCase(code="def check(candidate):\n    assert candidate(2) == 3\n"),
        AssertCase(code="assert g(1) == 2"),
        AssertCase(code="for i in [1]:\n    assert f(i) == 2"),
        AssertCase(code="for i in [1]:\n    assert f(i) == 3"),
    ]
    tests = AssertTests(entry_point="f", public=public)
    records, _, result = run_harness(program, tests, tmp_path)
    assert [c.judged for c in result.cases] == ["host"] * 4 + ["sandbox"] * 2
    assert records[0].report.probes[0].value == 2
    assert records[3].report.probes[0].error is not None
    assert records[3].report.probes[0].error["type"] == "NameError"
    assert records[4].token and records[4].report.completed == (records[4].token,)
    failure = records[5].report.error
    assert failure is not None and failure["type"] == "AssertionError"
    assert (failure["actual"], failure["expected"]) == ("2", "3")
    verdicts = [c.verdict for c in result.cases]
    assert verdicts == [
        Verdict.ACCEPTED,
        Verdict.WRONG_ANSWER,
        Verdict.ACCEPTED,
        Verdict.RUNTIME_ERROR,
        Verdict.ACCEPTED,
        Verdict.WRONG_ANSWER,
    ]
    assert result.cases[1].input_excerpt == "assert f(1) == 3"
    assert (result.cases[1].actual_excerpt, result.cases[1].expected_excerpt) == ("2", "3")


def test_harness_does_not_accept_a_program_that_exits_before_the_tests(tmp_path: Path) -> None:
    program = "import sys\nprint('{\"completed\": true}')\nsys.exit(0)\n"
    tests = AssertTests(public=[AssertCase(code="for _ in [0]:\n    assert False")])
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing is not None
    assert records[0].exit_code == 0
    assert records[0].token == ""  # nobody asked for one
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_harness_reports_a_compile_error_for_every_case(tmp_path: Path) -> None:
    tests = StdioTests(public=[StdioCase(output="1"), StdioCase(output="2")])
    records, closing, result = run_harness("def f(:\n", tests, tmp_path)
    assert closing is not None
    assert [records[i].status for i in range(2)] == ["compile_error"] * 2
    failure = records[0].report.error
    assert failure is not None
    assert failure["frames"] == [{"line": 1, "function": "<module>", "code": "def f(:"}]
    assert result.verdict is Verdict.COMPILE_ERROR


def test_harness_cuts_an_output_flood(tmp_path: Path) -> None:
    limits = Limits(time_limit_s=2.0, output_limit_bytes=1000)
    tests = StdioTests(public=[StdioCase(output="x")])
    records, closing, result = run_harness(
        "while True:\n    print('x' * 100)\n", tests, tmp_path, limits
    )
    assert closing is not None
    assert records[0].status == "output_limit"
    assert len(records[0].stdout) == 1000
    assert result.verdict is Verdict.OUTPUT_LIMIT


def test_harness_cuts_a_report_flood_at_the_output_limit(tmp_path: Path) -> None:
    limits = Limits(time_limit_s=2.0, output_limit_bytes=1000)
    program = "import os\nwhile True:\n    os.write(3, b'x' * 4096)\n"
    records, closing, result = run_harness(
        program, StdioTests(public=[StdioCase(output="x")]), tmp_path, limits
    )
    assert closing is not None
    assert records[0].status == "output_limit"
    assert result.verdict is Verdict.OUTPUT_LIMIT


def test_a_deep_report_never_reaches_the_harness_parser(tmp_path: Path) -> None:
    program = (
        "import os\nos.write(3, b'[' * 200000 + b']' * 200000 + b'\\n')\ndef f():\n    return 1\n"
    )
    tests = AssertTests(entry_point="f", public=[AssertCase(code="assert f() == 1")])
    records, closing, result = run_harness(program, tests, tmp_path)
    assert closing is not None  # the harness survived and finished the attempt
    assert records[0].malformed
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_the_setup_banner_from_the_program_is_its_own_failure(tmp_path: Path) -> None:
    program = (
        "import sys\nsys.stderr.write('retrospect-harness: case setup failed\\n')\nsys.exit(70)\n"
    )
    records, closing, result = run_harness(
        program, StdioTests(public=[StdioCase(output="x")]), tmp_path
    )
    assert records[0].setup_error == ""
    assert result.verdict is Verdict.RUNTIME_ERROR


def test_cpu_of_unreaped_children_is_charged(tmp_path: Path) -> None:
    """A child that burns CPU and is never waited for still counts against the case."""
    # The child says on a pipe when it has burnt its CPU and exits; the parent never waits.
    program = (
        "import os, time\n"
        "done_r, done_w = os.pipe()\n"
        "if os.fork() == 0:\n"
        "    end = time.process_time() + 1.2\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "    os.write(done_w, b'x')\n"
        "    os._exit(0)\n"
        "os.read(done_r, 1)\n"
        "print('x')\n"
    )
    limits = Limits(time_limit_s=1.0, wall_factor=20.0)  # a loaded host must not cut it short
    _, _, result = run_harness(
        program, StdioTests(public=[StdioCase(output="x")]), tmp_path, limits
    )
    assert result.cases[0].time_s >= 1.0
    assert result.verdict is Verdict.TIME_LIMIT


def test_the_attempt_shares_one_output_budget(tmp_path: Path) -> None:
    """Each case may print up to the output limit, all cases together up to the attempt's."""
    limits = Limits(time_limit_s=2.0, output_limit_bytes=1000, attempt_output_limit_bytes=1500)
    tests = StdioTests(public=[StdioCase(output="x" * 800)] * 2)
    records, closing, result = run_harness("print('x' * 800)\n", tests, tmp_path, limits)
    assert closing is not None
    assert [records[i].status for i in range(2)] == ["exited", "output_limit"]
    assert [c.verdict for c in result.cases] == [Verdict.ACCEPTED, Verdict.OUTPUT_LIMIT]


def test_identity_in_a_sandbox_judged_test_needs_no_laundering() -> None:
    class Node:
        pass

    exec(
        harness.compile_tests("assert f() is not None\nassert g() is None"),
        {"f": Node, "g": lambda: None},
    )


def test_a_program_reading_all_of_stdin_sees_its_end(tmp_path: Path) -> None:
    tests = StdioTests(public=[StdioCase(input="1 2\n3\n", output="6")])
    program = "import os, sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
    program += "print(sorted(os.listdir('/proc/self/fd')), file=sys.stderr)\n"
    records, _, result = run_harness(program, tests, tmp_path)
    assert result.verdict is Verdict.ACCEPTED, result.model_dump()
    # Only stdin, stdout, stderr and the report pipe (and the listing's own descriptor, 4) are
    # open: the setup pipe was closed before the program ran, and no end of the harness's.
    assert records[0].stderr.strip() == "['0', '1', '2', '3', '4']"


def _scratch_header(root: Path) -> protocol.Header:
    options = HarnessOptions(drop_uid=None, scrub_dirs=(str(root),), workdir=str(root))
    tests = StdioTests.model_validate({"kind": "stdio", "public": [{"input": "", "output": ""}]})
    return build_header("", tests, 1, Limits(), options)


def test_the_clean_up_empties_what_no_recursive_walk_could(tmp_path: Path) -> None:
    """A tree deeper than any path, an unreadable directory, special files and links out of
    the box: emptied, iteratively, without following a link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    root = tmp_path / "scratch"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
    os.close(fd)
    (root / "locked" / "inner").mkdir(parents=True)
    (root / "locked" / "inner" / "f").write_text("x")
    (root / "locked").chmod(0)
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")

    assert harness.scrub_scratch_dirs(_scratch_header(root)) is False  # it was not empty
    assert os.listdir(root) == []
    assert (outside / "keep").read_text() == "x"
    assert harness.scrub_scratch_dirs(_scratch_header(root)) is True


def test_the_clean_up_gives_up_past_its_budget_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cleanup, "SCRUB_MAX_ENTRIES", 10)
    for index in range(50):
        (tmp_path / f"f{index}").write_text("x")
    header = _scratch_header(tmp_path)
    assert harness.scrub_scratch_dirs(header) is False
    assert os.listdir(tmp_path)  # left for the backend to recycle
    assert harness.proven_clean(header) is False
