"""The solution inside a program: its top-level test code left out (see docs/sandbox.md).

A model asked for a function often adds code that exercises it: the prompt's example assert
copied, asserts of its own (often with wrong expected values), demonstration calls and prints,
an `if __name__ == "__main__":` block. Run as part of the program, an invented assert that is
wrong fails the attempt before the real tests run, and the feedback reports the model's test,
not its function. So where the tests call names (functional and assert problems), the judged
program is the solution; standard-input programs stay whole.

Each top-level statement is one of:
- test code: an `assert`; an `if __name__ == "__main__":` block; any other statement whose own
  code (not inside a nested function, class or lambda) contains an assert, calls output, input
  or a test runner (`TEST_CALLS`), or calls anything but a builtin or an imported name
  (a demonstration call such as `print(f(3))`, `result = f(3)` or `Solution().solve(2)`, or a
  call of a name the program never binds);
- kept: everything else: imports, definitions, and set-up such as `MOD = 10**9 + 7` or
  `sys.setrecursionlimit(10**6)`.
Test code is kept after all when it binds a name the kept code needs (the names the tests call,
and every name read by kept code, to a fixed point): `TABLE = build_table()` read by the entry
point stays. Nothing a definition uses is ever dropped.

Statements go by whole lines; one that shares a line with a kept statement (`a = 1; print(a)`)
stays. Pure parsing over untrusted text, never execution: a program that does not parse, or
whose solution would not compile, comes back unchanged.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sandbox.parsing import compiles

# Dotted names of calls that make a top-level statement test code: output, input and test
# runners. A program's set-up (`sys.setrecursionlimit`, `random.seed`) is none of these, and
# neither is exiting: a program that exits before the tests run is judged for it, as before.
TEST_CALLS = frozenset(
    {
        "print",
        "input",
        "breakpoint",
        "sys.stdout.write",
        "sys.stderr.write",
        "sys.stdin.read",
        "sys.stdin.readline",
        "sys.stdin.readlines",
        "unittest.main",
        "doctest.testmod",
        "pytest.main",
    }
)
_BUILTINS = frozenset(dir(builtins))
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NESTED_SCOPES = (*_DEFINITIONS, ast.Lambda)


@dataclass(frozen=True)
class Solution:
    """The code that is judged, and the top-level test code left out of it ("" for none)."""

    code: str
    dropped: str = ""


def solution_of(code: str, calls: Collection[str]) -> Solution:
    """`code` without its top-level test code; `calls`: the names the tests call."""
    tree = compiles(code, "<solution>")
    if tree is None or not calls or not tree.body:
        return Solution(code)
    drop = _test_statements(tree, frozenset(name.partition(".")[0] for name in calls))
    if not drop or len(drop) == len(tree.body):
        return Solution(code)
    lines = code.split("\n")
    dropped_lines = _lines_of(tree, drop)
    # Comments after the last kept statement introduced the test code ("# Test it"): they go too.
    last = max(_span(node)[1] - 1 for i, node in enumerate(tree.body) if i not in drop)
    kept = "\n".join(
        line for i, line in enumerate(lines, 1) if i not in dropped_lines and i <= last
    ).rstrip()
    if not kept.strip() or compiles(kept, "<solution>") is None:
        return Solution(code)
    dropped = "\n".join(line for i, line in enumerate(lines, 1) if i in dropped_lines)
    return Solution(kept, dropped.strip("\n"))


def _test_statements(tree: ast.Module, called: frozenset[str]) -> set[int]:
    """Indices of the top-level statements to drop."""
    setup = _set_up_callables(tree)
    test = {i for i, node in enumerate(tree.body) if _is_test_code(node, setup)}
    needed = set(called)
    for i, node in enumerate(tree.body):
        if i not in test:
            needed |= _reads(node)
    changed = True
    while changed:
        changed = False
        for i in sorted(test):
            if _binds(tree.body[i]) & needed:
                test.discard(i)
                needed |= _reads(tree.body[i])
                changed = True
    return test


def _lines_of(tree: ast.Module, drop: set[int]) -> set[int]:
    """The line numbers of the dropped statements that no kept statement shares."""
    spans = [_span(node) for node in tree.body]
    kept_lines = {n for i, span in enumerate(spans) if i not in drop for n in range(*span)}
    return {n for i in drop for n in range(*spans[i]) if n not in kept_lines}


def _span(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return first, (node.end_lineno or node.lineno) + 1


def _is_test_code(node: ast.stmt, setup: frozenset[str]) -> bool:
    if isinstance(node, (*_DEFINITIONS, ast.Import, ast.ImportFrom)):
        return False
    if isinstance(node, ast.Assert) or _is_main_guard(node):
        return True
    for child in _own_nodes(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call) and _is_test_call(child.func, setup):
            return True
    return False


def _is_test_call(func: ast.expr, setup: frozenset[str]) -> bool:
    dotted = _dotted(func)
    if dotted is not None and dotted in TEST_CALLS:
        return True
    root = _root_name(func)
    return root is not None and root not in setup


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, *test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    constants = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and constants == {"__main__"}


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and what it contains; nested functions, classes and lambdas, but not their insides."""
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is node or not isinstance(current, _NESTED_SCOPES):
            stack.extend(ast.iter_child_nodes(current))


def _dotted(func: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    return ".".join([func.id, *reversed(parts)])


def _root_name(func: ast.expr) -> str | None:
    """The name at the root of `f`, `obj.method`, `Cls().method` or `table[k]`."""
    while True:
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, (ast.Attribute, ast.Subscript)):
            func = func.value
        elif isinstance(func, ast.Call):
            func = func.func
        else:
            return None


def _set_up_callables(tree: ast.Module) -> frozenset[str]:
    """What set-up may call: builtins and imported modules and names, unless the program
    rebinds them. Calling anything else (what the program defines, or a name it never binds)
    is running the program."""
    imported: set[str] = set()
    defined: set[str] = set()
    for node in tree.body:
        names, imports = _bindings(node)
        defined |= names
        imported |= imports
    return frozenset((_BUILTINS | imported) - defined)


def _binds(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds, in its own code (nested blocks included)."""
    names, imports = _bindings(node)
    return names | imports


def _bindings(node: ast.stmt) -> tuple[set[str], set[str]]:
    """Names `node` binds in its own code: by definition or assignment, and by import."""
    if isinstance(node, _DEFINITIONS):
        return {node.name}, set()
    names: set[str] = set()
    imports: set[str] = set()
    for child in _own_nodes(node):
        if isinstance(child, _DEFINITIONS) and child is not node:
            names.add(child.name)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            imports.update((a.asname or a.name).split(".")[0] for a in child.names)
    return names, imports


def _reads(node: ast.stmt) -> set[str]:
    """Every name `node` mentions anywhere, nested scopes included (over-counting keeps more)."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            names.update(child.names)
    return names
