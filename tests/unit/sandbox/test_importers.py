"""Importers: HumanEval, MBPP (the real sanitized set), LiveCodeBench, and file loading."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

import pytest

from benchmarks.data import MBPP_SANITIZED
from sandbox.importers import (
    ImportedProblem,
    ImportFormatError,
    decode_lcb_tests,
    from_humaneval,
    from_livecodebench,
    from_mbpp,
    import_record,
    load_problems,
    load_with_references,
    mbpp_entry_point,
)
from sandbox.problem import AssertTests, FunctionalTests, Problem, StdioTests

MBPP_SANITIZED_COUNT = 427

HUMANEVAL: dict[str, Any] = {
    "task_id": "HumanEval/0",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n',
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "test": "METADATA = {}\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n",
}
MBPP: dict[str, Any] = {
    "task_id": 82,
    "prompt": "Write a function to find the volume of a sphere.",
    "code": "import math\ndef volume_sphere(r):\n  return (4/3)*math.pi*r*r*r",
    "test_imports": ["import math"],
    "test_list": [
        "assert math.isclose(volume_sphere(10), 4188.790204786391, rel_tol=0.001)",
        "assert math.isclose(volume_sphere(25), 65449.84694978735, rel_tol=0.001)",
        "assert math.isclose(volume_sphere(20), 33510.32163829113, rel_tol=0.001)",
    ],
}


def lcb_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "question_title": "A + B",
        "question_content": "Read two integers and print their sum.",
        "question_id": "abc001_a",
        "starter_code": "",
        "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
        "private_test_cases": json.dumps(
            [{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}]
        ),
        "metadata": "{}",
    }
    record.update(overrides)
    return record


def compressed(payload: bytes) -> str:
    return base64.b64encode(zlib.compress(payload)).decode()


# --- HumanEval -------------------------------------------------------------------------------


def test_humaneval_is_one_check_case_with_the_prompt_as_starter() -> None:
    imported = from_humaneval(HUMANEVAL)
    tests = imported.problem.tests
    assert isinstance(tests, AssertTests)
    assert tests.entry_point == "add"
    assert [case.code for case in tests.public] == [HUMANEVAL["test"]]
    assert imported.problem.starter_code == HUMANEVAL["prompt"]
    assert "add" in imported.problem.statement
    assert imported.reference == HUMANEVAL["prompt"] + HUMANEVAL["canonical_solution"]
    assert imported.source_id == "HumanEval/0"


def test_humaneval_reference_passes_its_check() -> None:
    imported = from_humaneval(HUMANEVAL)
    assert imported.reference is not None
    namespace: dict[str, Any] = {}
    exec(imported.reference, namespace)
    exec(imported.problem.tests.public[0].code, namespace)  # type: ignore[union-attr]
    namespace["check"](namespace["add"])


# --- MBPP ------------------------------------------------------------------------------------


def test_mbpp_cases_carry_imports_and_split_public_hidden() -> None:
    imported = from_mbpp(MBPP)
    tests = imported.problem.tests
    assert isinstance(tests, AssertTests)
    assert tests.entry_point == "volume_sphere"
    assert len(tests.public) == 1 and len(tests.hidden) == 2
    assert all(case.code.startswith("import math\nassert ") for case in tests.public + tests.hidden)
    assert "`volume_sphere`" in imported.problem.statement
    assert MBPP["test_list"][0] in imported.problem.statement
    assert imported.reference == MBPP["code"]
    assert imported.source_id == "mbpp/82"


def test_mbpp_public_fraction_and_original_format() -> None:
    record = {
        "task_id": 11,
        "text": "Write a python function to remove odd numbers.",
        "code": "def remove_odd(l):\n    return [x for x in l if x % 2 == 0]",
        "test_setup_code": "data = [1, 2]",
        "test_list": ["assert remove_odd(data) == [2]"] * 4,
        "challenge_test_list": ["assert remove_odd([]) == []"],
    }
    tests = from_mbpp(record, public_fraction=1.0).problem.tests
    assert len(tests.public) == 4 and len(tests.hidden) == 1
    assert tests.public[0].code == "data = [1, 2]\nassert remove_odd(data) == [2]"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("test", "code", "expected"),
    [
        ("assert set(similar(a, b)) == set((4, 5))", "def similar(a, b): ...", "similar"),
        ("assert len(helper(x)) == 2", None, "helper"),
        ("assert math.isclose(area(2), 4.0)", "import math\ndef area(r): ...", "area"),
        ("assert sorted(x) == [1]", "class Pair: ...\ndef f(): ...", "Pair"),
    ],
)
def test_mbpp_entry_point(test: str, code: str | None, expected: str) -> None:
    assert mbpp_entry_point(test, code) == expected


def test_mbpp_without_a_task_text_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="prompt"):
        from_mbpp({"task_id": 1, "test_list": ["assert f() == 1"]})


def test_mbpp_sanitized_imports_every_record_with_a_reference() -> None:
    imported = load_with_references(MBPP_SANITIZED)
    assert len(imported) == MBPP_SANITIZED_COUNT
    assert len({item.source_id for item in imported}) == MBPP_SANITIZED_COUNT
    for item in imported:
        tests = item.problem.tests
        assert isinstance(tests, AssertTests)
        assert item.reference and f"def {tests.entry_point}" in item.reference
        assert tests.entry_point and tests.entry_point in tests.public[0].code


def test_mbpp_sanitized_test_imports_reach_every_case() -> None:
    records = json.loads(MBPP_SANITIZED.read_text())
    with_imports = [record for record in records if record["test_imports"]]
    assert with_imports
    for record in with_imports:
        tests = from_mbpp(record).problem.tests
        for case in tests.public + tests.hidden:
            assert all(line in case.code for line in record["test_imports"])  # type: ignore[union-attr]


# --- LiveCodeBench ---------------------------------------------------------------------------


def test_lcb_stdin_becomes_stdio_with_private_hidden() -> None:
    imported = from_livecodebench(lcb_record())
    tests = imported.problem.tests
    assert isinstance(tests, StdioTests)
    assert [(c.input, c.output) for c in tests.public] == [("1 2\n", "3\n")]
    assert [(c.input, c.output) for c in tests.hidden] == [("5 5\n", "10\n")]
    assert imported.source_id == "abc001_a"
    assert imported.reference is None


def test_lcb_functional_calls_solution_method_with_one_argument_per_line() -> None:
    tests_json = json.dumps(
        [{"input": "[2,7,11,15]\n9", "output": "[0, 1]", "testtype": "functional"}]
    )
    record = lcb_record(
        starter_code="class Solution:\n    def twoSum(self, nums, target):\n        ",
        public_test_cases=tests_json,
        private_test_cases="",
        metadata=json.dumps({"func_name": "twoSum"}),
    )
    tests = from_livecodebench(record).problem.tests
    assert isinstance(tests, FunctionalTests)
    assert tests.entry_point == "Solution.twoSum"
    assert tests.public[0].args == [[2, 7, 11, 15], 9]
    assert tests.public[0].expected == [0, 1]


def test_lcb_functional_needs_func_name() -> None:
    tests_json = json.dumps([{"input": "1", "output": "1", "testtype": "functional"}])
    with pytest.raises(ImportFormatError, match="func_name"):
        from_livecodebench(lcb_record(public_test_cases=tests_json, private_test_cases=""))


def test_lcb_compressed_json_private_tests() -> None:
    private = json.dumps([{"input": "7 8\n", "output": "15\n", "testtype": "stdin"}])
    record = lcb_record(private_test_cases=compressed(private.encode()))
    tests = from_livecodebench(record).problem.tests
    assert [c.output for c in tests.hidden] == ["15\n"]  # type: ignore[union-attr]


def test_lcb_pickled_private_tests_are_refused_not_unpickled() -> None:
    payload = compressed(pickle.dumps(json.dumps([])))
    with pytest.raises(ImportFormatError, match="pickled"):
        decode_lcb_tests(payload)


@pytest.mark.parametrize(
    "payload", ["not json at all", compressed(b"\xff\xfe"), compressed(b"nope"), "{}"]
)
def test_lcb_bad_payloads_are_import_errors(payload: str) -> None:
    with pytest.raises(ImportFormatError):
        decode_lcb_tests(payload)


def test_lcb_without_public_tests_promotes_the_first_private_one() -> None:
    tests = from_livecodebench(lcb_record(public_test_cases="[]")).problem.tests
    assert len(tests.public) == 1 and not tests.hidden


# --- files -----------------------------------------------------------------------------------


def test_import_record_detects_formats() -> None:
    problem = Problem.model_validate_json(Path("examples/sum_evens.json").read_text())
    assert import_record(problem.model_dump(mode="json")).problem == problem
    assert import_record(HUMANEVAL).source_id == "HumanEval/0"
    assert import_record(MBPP).source_id == "mbpp/82"
    assert import_record(lcb_record()).source_id == "abc001_a"
    with pytest.raises(ImportFormatError, match="unknown record format"):
        import_record({"foo": 1})


def test_import_errors_name_the_record_and_field() -> None:
    broken = {**HUMANEVAL, "test": ""}
    with pytest.raises(ImportFormatError, match=r"(?s)line 7.*test"):
        import_record(broken, label="line 7")


def test_load_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "humaneval.jsonl"
    path.write_text(json.dumps(HUMANEVAL) + "\n\n" + json.dumps(HUMANEVAL) + "\n")
    assert len(load_problems(path)) == 2


def test_load_json_list_of_problems(tmp_path: Path) -> None:
    problem = json.loads(Path("examples/sum_evens.json").read_text())
    path = tmp_path / "problems.json"
    path.write_text(json.dumps([problem, problem]))
    assert [p.title for p in load_problems(path)] == [problem["title"]] * 2


def test_single_problem_takes_its_sibling_solution() -> None:
    [imported] = load_with_references("examples/two_sum_stdio.json")
    assert isinstance(imported, ImportedProblem)
    assert imported.reference == Path("examples/two_sum_stdio.solution.py").read_text()


@pytest.mark.parametrize(
    ("name", "text"), [("a.txt", "{}"), ("a.json", "{not json"), ("a.json", "[1, 2]")]
)
def test_bad_files_are_import_errors(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ImportFormatError):
        load_problems(path)
