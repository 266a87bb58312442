"""Problems from common benchmark formats (see docs/sandbox.md), with their reference solutions.

Formats, recognized per record by their keys:
- a `Problem` itself (`tests`);
- HumanEval (`task_id, prompt, entry_point, test, canonical_solution`): one assert case, the
  `check(candidate)` function; the prompt is the starter code; reference = prompt + solution;
- MBPP, original or sanitized (`task_id, prompt|text, code, test_list, test_imports,
  test_setup_code, challenge_test_list`): one assert case per test, preceded by the imports and
  setup; the first `public_fraction` of `test_list` (at least one) is public, the rest and the
  challenge tests hidden; the statement names the function and shows the first test;
- LiveCodeBench (`question_title, question_content, starter_code, public_test_cases,
  private_test_cases, metadata`): stdin tests become stdio cases (compared as tokens),
  functional tests call `metadata.func_name` (`Solution.<name>` when the starter code defines
  `class Solution`) with one JSON argument per input line. Private tests may be plain JSON or
  base64(zlib(JSON)); pickled payloads (as the published dataset ships them) are refused,
  never unpickled.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sandbox.parsing import parse_foreign
from sandbox.problem import (
    AssertCase,
    AssertTests,
    FunctionalCase,
    FunctionalTests,
    Problem,
    StdioCase,
    StdioTests,
)

MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
TITLE_CHARS = 200
SOLUTION_SUFFIX = ".solution.py"


class ImportFormatError(ValueError):
    """A record that is in no known format, or not valid in its own."""


@dataclass(frozen=True)
class ImportedProblem:
    """A problem, the format's reference solution when it has one, and where it came from."""

    problem: Problem
    reference: str | None
    source_id: str


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class HumanEvalRecord(_Record):
    """One line of HumanEval's JSONL."""

    task_id: str
    prompt: str
    entry_point: str
    test: Annotated[str, Field(min_length=1)]
    canonical_solution: str | None = None


class MbppRecord(_Record):
    """One MBPP problem (`prompt` in the sanitized set, `text` in the original)."""

    task_id: int | str
    prompt: str | None = None
    text: str | None = None
    code: str | None = None
    test_list: Annotated[list[str], Field(min_length=1)]
    test_imports: list[str] = Field(default_factory=list)
    test_setup_code: str = ""
    challenge_test_list: list[str] = Field(default_factory=list)


class LiveCodeBenchTest(_Record):
    """One LiveCodeBench test case."""

    input: str
    output: str
    testtype: Literal["stdin", "functional"]


class LiveCodeBenchRecord(_Record):
    """One LiveCodeBench problem; test lists and metadata arrive as JSON strings."""

    question_title: str
    question_content: str
    question_id: str | int | None = None
    starter_code: str = ""
    public_test_cases: str | list[LiveCodeBenchTest]
    private_test_cases: str | list[LiveCodeBenchTest] = ""
    metadata: str | dict[str, Any] = "{}"


# --- HumanEval -------------------------------------------------------------------------------


def from_humaneval(record: Mapping[str, Any]) -> ImportedProblem:
    """A HumanEval record as an assert problem whose one case calls `check(<entry_point>)`."""
    rec = HumanEvalRecord.model_validate(record)
    statement = (
        f"Complete the Python function `{rec.entry_point}` below. Give the whole function, "
        f"with any imports it needs.\n\n```python\n{rec.prompt.rstrip()}\n```"
    )
    problem = Problem(
        title=_title(rec.task_id),
        statement=statement,
        starter_code=rec.prompt,
        tests=AssertTests(public=[AssertCase(code=rec.test)], entry_point=rec.entry_point),
    )
    reference = None if rec.canonical_solution is None else rec.prompt + rec.canonical_solution
    return ImportedProblem(problem, reference, rec.task_id)


# --- MBPP ------------------------------------------------------------------------------------


def from_mbpp(record: Mapping[str, Any], *, public_fraction: float = 0.5) -> ImportedProblem:
    """An MBPP record as an assert problem; the first `public_fraction` of its tests are public."""
    rec = MbppRecord.model_validate(record)
    task = (rec.prompt or rec.text or "").strip()
    if not task:
        raise ImportFormatError(f"mbpp/{rec.task_id}: neither 'prompt' nor 'text' is given")
    name = mbpp_entry_point(rec.test_list[0], rec.code)
    # Each case carries the imports and setup, since a case runs on its own after the program.
    header = "\n".join([*rec.test_imports, rec.test_setup_code]).strip()
    cases = [AssertCase(code=f"{header}\n{test}".strip()) for test in rec.test_list]
    challenge = [AssertCase(code=f"{header}\n{test}".strip()) for test in rec.challenge_test_list]
    public_count = max(1, int(len(cases) * public_fraction))
    statement = (
        f"{task}\n\nWrite a Python function named `{name}`. "
        f"Your code should pass tests like this one:\n\n```python\n{rec.test_list[0]}\n```"
    )
    tests = AssertTests(
        public=cases[:public_count], hidden=cases[public_count:] + challenge, entry_point=name
    )
    source_id = f"mbpp/{rec.task_id}"
    problem = Problem(title=_title(f"{source_id} {name}"), statement=statement, tests=tests)
    return ImportedProblem(problem, rec.code, source_id)


def mbpp_entry_point(test: str, code: str | None) -> str:
    """The function an MBPP test calls: one the reference defines, else the first non-builtin."""
    calls = _called_names(test)
    defined = _defined_names(code or "")
    for name in calls:
        if name in defined:
            return name
    unknown = [name for name in calls if not hasattr(builtins, name)]
    if unknown:
        return unknown[0]
    if defined:
        return defined[0]
    raise ImportFormatError(f"no function to test in {test!r}")


def _called_names(source: str) -> list[str]:
    try:
        tree = parse_foreign(source)
    except SyntaxError as exc:
        raise ImportFormatError(f"test is not Python: {source!r}") from exc
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return [call.func.id for call in calls if isinstance(call.func, ast.Name)]


def _defined_names(source: str) -> list[str]:
    try:
        tree = parse_foreign(source)
    except SyntaxError:
        return []
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]


# --- LiveCodeBench ---------------------------------------------------------------------------


def from_livecodebench(record: Mapping[str, Any]) -> ImportedProblem:
    """A LiveCodeBench record as a stdio or functional problem; private tests become hidden."""
    rec = LiveCodeBenchRecord.model_validate(record)
    public = _lcb_tests(rec.public_test_cases)
    hidden = _lcb_tests(rec.private_test_cases)
    if not public:
        # Some records publish no example; the first private test then serves as one.
        public, hidden = hidden[:1], hidden[1:]
    if not public:
        raise ImportFormatError(f"{rec.question_title!r}: no test cases")
    problem = Problem(
        title=_title(rec.question_title),
        statement=rec.question_content,
        starter_code=rec.starter_code or None,
        tests=_lcb_suite(rec, public, hidden),
    )
    source_id = str(rec.question_id) if rec.question_id is not None else rec.question_title
    return ImportedProblem(problem, None, source_id)


def _lcb_suite(
    rec: LiveCodeBenchRecord, public: list[LiveCodeBenchTest], hidden: list[LiveCodeBenchTest]
) -> StdioTests | FunctionalTests:
    kinds = {test.testtype for test in public + hidden}
    if kinds == {"stdin"}:
        return StdioTests(
            public=[_stdio_case(t) for t in public], hidden=[_stdio_case(t) for t in hidden]
        )
    if kinds == {"functional"}:
        return FunctionalTests(
            public=[_functional_case(t) for t in public],
            hidden=[_functional_case(t) for t in hidden],
            entry_point=_lcb_entry_point(rec),
        )
    raise ImportFormatError(f"{rec.question_title!r}: mixed test types {sorted(kinds)}")


def decode_lcb_tests(payload: str) -> list[LiveCodeBenchTest]:
    """Test cases from a JSON string, or from base64(zlib(JSON)); pickles are refused."""
    if not payload.strip():
        return []
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        data = _inflated_json(payload)
    if not isinstance(data, list):
        raise ImportFormatError("test cases must be a JSON list")
    return [LiveCodeBenchTest.model_validate(item) for item in data]


def _lcb_tests(payload: str | list[LiveCodeBenchTest]) -> list[LiveCodeBenchTest]:
    return payload if isinstance(payload, list) else decode_lcb_tests(payload)


def _inflated_json(payload: str) -> Any:
    try:
        return json.loads(_inflate(payload))
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"compressed test cases are not JSON: {exc}") from exc


def _inflate(payload: str) -> str:
    try:
        compressed = base64.b64decode(payload, validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES)
    except (binascii.Error, zlib.error) as exc:
        raise ImportFormatError("test cases are neither JSON nor base64(zlib(JSON))") from exc
    if inflater.unconsumed_tail:
        raise ImportFormatError(f"test cases inflate past {MAX_DECOMPRESSED_BYTES} bytes")
    # Protocol 2+ pickles start with the PROTO opcode; unpickling runs code, so never do it.
    if raw[:1] == b"\x80":
        raise ImportFormatError("test cases are pickled; only JSON payloads are supported")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError("compressed test cases are not UTF-8 JSON") from exc


def _stdio_case(test: LiveCodeBenchTest) -> StdioCase:
    return StdioCase(input=test.input, output=test.output)


def _functional_case(test: LiveCodeBenchTest) -> FunctionalCase:
    try:
        args = [json.loads(line) for line in test.input.split("\n") if line.strip()]
        expected = json.loads(test.output)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"functional test is not JSON: {exc}") from exc
    return FunctionalCase(args=args, expected=expected)


def _lcb_entry_point(rec: LiveCodeBenchRecord) -> str:
    metadata = json.loads(rec.metadata) if isinstance(rec.metadata, str) else rec.metadata
    name = metadata.get("func_name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise ImportFormatError(f"{rec.question_title!r}: functional tests need metadata.func_name")
    return f"Solution.{name}" if "class Solution" in rec.starter_code else name


# --- Files -----------------------------------------------------------------------------------


Importer = Callable[[Mapping[str, Any]], ImportedProblem]


def import_record(record: Mapping[str, Any], *, label: str = "record") -> ImportedProblem:
    """One record of any known format; errors start with `label` and name the bad field."""
    try:
        return _importer_for(record)(record)
    except ValueError as exc:  # pydantic's, json's and ours
        raise ImportFormatError(f"{label}: {exc}") from exc


def load_with_references(path: str | Path) -> list[ImportedProblem]:
    """Every problem in a .json or .jsonl file, with reference solutions where known.

    A .json file holding one `Problem` takes its reference from `<stem>.solution.py` beside it.
    """
    path = Path(path)
    records = _read_records(path)
    imported = [
        import_record(record, label=f"{path.name}#{index}") for index, record in enumerate(records)
    ]
    sibling = path.with_name(path.name.removesuffix(".json") + SOLUTION_SUFFIX)
    if len(imported) == 1 and imported[0].reference is None and sibling.is_file():
        only = imported[0]
        imported = [ImportedProblem(only.problem, sibling.read_text(), only.source_id)]
    return imported


def load_problems(path: str | Path) -> list[Problem]:
    """Every problem in a .json (one, or a list) or .jsonl file of any known format."""
    return [item.problem for item in load_with_references(path)]


def _read_records(path: Path) -> list[Mapping[str, Any]]:
    if path.suffix not in (".json", ".jsonl"):
        raise ImportFormatError(f"{path}: expected a .json or .jsonl file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            data: JsonValue = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise ImportFormatError(f"{path}: every record must be a JSON object")
    return [item for item in items if isinstance(item, dict)]


def _importer_for(record: Mapping[str, Any]) -> Importer:
    if "tests" in record:
        return _from_problem
    if "test_list" in record:
        return from_mbpp
    if "question_content" in record:
        return from_livecodebench
    if "entry_point" in record and "test" in record:
        return from_humaneval
    raise ImportFormatError(f"unknown record format with keys {sorted(record)[:10]}")


def _from_problem(record: Mapping[str, Any]) -> ImportedProblem:
    problem = Problem.model_validate(record)
    return ImportedProblem(problem, None, problem.title)


def _title(text: str) -> str:
    return text.strip()[:TITLE_CHARS] or "untitled"
