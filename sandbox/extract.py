"""Extracting the program from a model's response (see docs/sandbox.md).

The candidates, after normalizing line endings to `\\n`: every complete block matching
```` ```(\\w*)\\n(.*?)``` ```` (left to right, non-overlapping) and, after the last complete
block, the text following an opener (```` ```lang\\n ````) that is never closed (a generation
cut at its length limit); each body without its leading blank lines and trailing whitespace.

Three rules:
- `solution` (the default): the candidate `runnable` chooses, without its top-level test code
  where the tests call names (`sandbox.solution`: the model's own asserts, demonstration calls,
  prints and main guard are not judged; what was left out is reported as `dropped`).
- `runnable`: the longest candidate that compiles and defines at top level every name the tests
  call; failing that, the longest that compiles; failing that, the longest. A response with no
  fence is the program only when it compiles. A model that writes the right function and then a
  longer fenced stretch of prose or usage is judged on its function.
- `longest` (the SDPO paper's rule): the longest candidate; with no fence, the whole response.

Either way, a response with no non-blank candidate gives None: the judge reports a format
error. Extraction runs on the host over untrusted text: it only parses and compiles, never
executes, and any failure of the parser counts as "does not compile".
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Collection, Iterator
from enum import StrEnum

from sandbox.parsing import compiles
from sandbox.problem import AssertTests, FunctionalTests, Tests
from sandbox.solution import Solution, solution_of

FENCE = "```"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_OPENER = re.compile(r"```\w*\n")
_BUILTINS = frozenset(dir(builtins))
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Extraction(StrEnum):
    """Which fenced block of a response is the program."""

    SOLUTION = "solution"
    RUNNABLE = "runnable"
    LONGEST = "longest"


def extract_solution(
    response: str, *, calls: Collection[str] = (), rule: Extraction = Extraction.SOLUTION
) -> Solution | None:
    """The program judged for `response` and what was left out of it, or None (nothing to run).

    `calls`: the names the tests call (`called_names`); `Class.method` requires both."""
    chosen = _choose(response, calls, rule)
    if chosen is None:
        return None
    return solution_of(chosen, calls) if rule is Extraction.SOLUTION else Solution(chosen)


def extract_code(
    response: str, *, calls: Collection[str] = (), rule: Extraction = Extraction.SOLUTION
) -> str | None:
    """The program judged for `response`, or None when there is none to run."""
    solution = extract_solution(response, calls=calls, rule=rule)
    return None if solution is None else solution.code


def _choose(response: str, calls: Collection[str], rule: Extraction) -> str | None:
    text = response.replace("\r\n", "\n").replace("\r", "\n")
    if FENCE not in text:
        whole = text.strip()
        if rule is not Extraction.LONGEST and compiles(whole, "<response>") is None:
            return None
        return whole or None
    candidates = [body for body in (_trim(b) for b in _bodies(text)) if body]
    if rule is Extraction.LONGEST:
        return _longest(candidates)
    trees = [compiles(body, "<response>") for body in candidates]
    defining = [c for c, t in zip(candidates, trees, strict=True) if _defines(t, calls)]
    compiling = [c for c, t in zip(candidates, trees, strict=True) if t is not None]
    return _longest(defining) or _longest(compiling) or _longest(candidates)


def called_names(tests: Tests) -> frozenset[str]:
    """What the tests call by name, so a candidate that defines it is preferred.

    Functional tests and HumanEval checks call their entry point; plain asserts (MBPP) call
    whatever names their code uses in call position that it neither defines nor gets from
    builtins. Standard-input tests call nothing by name."""
    if isinstance(tests, FunctionalTests):
        return frozenset({tests.entry_point})
    if not isinstance(tests, AssertTests):
        return frozenset()
    if tests.entry_point is not None:
        return frozenset({tests.entry_point})
    names: set[str] = set()
    for case in [*tests.public, *tests.hidden]:
        tree = compiles(case.code, "<test>")
        if tree is not None:
            names |= _free_calls(tree)
    return frozenset(names)


def _free_calls(tree: ast.Module) -> set[str]:
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    return called - _top_level_names(tree) - _BUILTINS


def _longest(candidates: list[str]) -> str | None:
    return max(candidates, key=len) if candidates else None


def _defines(tree: ast.Module | None, calls: Collection[str]) -> bool:
    if tree is None:
        return False
    defined = _top_level_names(tree)
    for name in calls:
        head, _, method = name.partition(".")
        if head not in defined:
            return False
        if method and not _class_has(tree, head, method):
            return False
    return True


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names bound at module level, inside top-level `if`/`try`/`with`/loops too."""
    names: set[str] = set()
    for node in _module_level(tree.body):
        if isinstance(node, _SCOPES):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if not isinstance(node, _SCOPES):
            yield from _module_level(_inner_statements(node))


def _inner_statements(node: ast.stmt) -> list[ast.stmt]:
    inner: list[ast.stmt] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            inner.append(child)
        elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
            inner.extend(child.body)
    return inner


def _class_has(tree: ast.Module, cls: str, method: str) -> bool:
    for node in _module_level(tree.body):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            bound = _top_level_names(ast.Module(body=node.body, type_ignores=[]))
            if method in bound:
                return True
    return False


def _bodies(text: str) -> list[str]:
    """Complete block bodies, then the tail of an unclosed opener after the last block."""
    bodies: list[str] = []
    rest_start = 0
    for match in _BLOCK.finditer(text):
        bodies.append(match.group(2))
        rest_start = match.end()
    opener = _OPENER.search(text, rest_start)
    if opener is not None:
        bodies.append(text[opener.end() :])
    return bodies


def _trim(body: str) -> str:
    # Keep the first code line's indentation: only whole blank lines go from the front.
    lines = body.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)
