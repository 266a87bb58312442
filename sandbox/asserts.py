"""Assert tests compiled on the host into probes (run in the sandbox) and checks (run here).

`assert f(3) == [1, 2]` becomes the probe `f(3)`, which the sandbox evaluates and reports as a
laundered value, and the check `Probe(0) == [1, 2]`, which the host evaluates: the expected
value never enters the sandbox, and no object of the program is asked to compare itself.

Compiled shapes: a test made only of imports, assignments, `assert` statements and the
HumanEval `def check(candidate): ...` (its body made of the same), whose asserts are built from
comparisons (`==`, `!=`, `<`, ..., `in`, `is None`), `and`/`or`/`not`, arithmetic on numbers
(`abs(a - b) < tol`), host functions (`math.isclose`, `len`, `sorted`, `set`, `isinstance`,
...), displays and constants, with probes as leaves. A probe must call into the program and
may not compare anything itself (that would run the comparison in the sandbox). Any other shape
(loops, helper functions, `from m import *`, ...) returns None: the case is then judged in the
sandbox, and its result says so. See docs/sandbox.md.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.hostexpr import (
    HOST_CONSTANTS,
    HOST_FUNCTIONS,
    PLAIN_TYPES,
    Binary,
    BoolOp,
    Call,
    Compare,
    Const,
    Display,
    HostEvalError,
    Node,
    Probe,
    Unary,
    evaluate,
)
from sandbox.parsing import parse_foreign
from sandbox.protocol import ProbeStep

SINGLETONS = (None, True, False)
BINARY_OPS = ("Add", "Sub", "Mult", "Div", "FloorDiv", "Mod")


class NotCompilable(Exception):
    """The test has a shape the host cannot judge; it runs in the sandbox instead."""


@dataclass(frozen=True)
class Check:
    """One assert: its test as a host expression, and where it stands in the test code."""

    test: Node
    source: str
    line: int


@dataclass(frozen=True)
class CompiledAssert:
    """A host-judged assert case: imports to run first, probes to evaluate, checks to judge."""

    setup: str
    steps: tuple[ProbeStep, ...]
    checks: tuple[Check, ...]


@functools.lru_cache(maxsize=4096)
def compile_assert(code: str, entry_point: str | None) -> CompiledAssert | None:
    """The test compiled for host judging, or None when its shape does not allow it."""
    try:
        return _Compiler(entry_point).compile(code)
    except (NotCompilable, SyntaxError, ValueError, RecursionError):
        return None


def host_judged_share(tests: Iterable[tuple[str, str | None]]) -> tuple[int, int]:
    """How many of the (code, entry point) assert cases compile for host judging, of all."""
    outcomes = [compile_assert(code, entry_point) is not None for code, entry_point in tests]
    return sum(outcomes), len(outcomes)


@dataclass
class _Step:
    source: str
    target: str
    report: bool


class _Compiler:
    """Walks a test's statements in order, building probes and checks."""

    def __init__(self, entry_point: str | None) -> None:
        self.entry_point = entry_point
        self.setup: list[str] = []
        self.steps: list[_Step] = []
        self.checks: list[Check] = []
        self.consts: dict[str, tuple[Any, ast.expr]] = {}  # name -> (value, its literal code)
        self.probe_names: dict[str, int] = {}  # name -> the step that bound it
        self.modules: dict[str, str] = {}  # local name -> what it imports ("math.isclose")
        self.renames: dict[str, str] = {}  # check()'s parameter -> the entry point
        self.check_def: ast.FunctionDef | None = None

    def compile(self, code: str) -> CompiledAssert:
        for statement in parse_foreign(code, "<test>").body:
            self._top(statement)
        if self.check_def is not None:
            self._run_check()  # the harness calls check(candidate) after the test code
        if not self.checks:
            raise NotCompilable("no assert")
        steps = tuple(ProbeStep(s.source, s.target, s.report) for s in self.steps)
        return CompiledAssert("\n".join(self.setup), steps, tuple(self.checks))

    def _top(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.FunctionDef) and statement.name == "check":
            self._define_check(statement)
        elif _is_check_call(statement):
            self._run_check()
        else:
            self._statement(statement)

    def _define_check(self, definition: ast.FunctionDef) -> None:
        arguments = definition.args
        if definition.decorator_list or len(arguments.args) != 1 or arguments.vararg:
            raise NotCompilable("check() takes one candidate")
        if not self.entry_point or "." in self.entry_point:
            raise NotCompilable("check() needs a plain entry point")
        self.check_def = definition

    def _run_check(self) -> None:
        if self.check_def is None:
            raise NotCompilable("check() called before it is defined")
        self.renames = {self.check_def.args.args[0].arg: self.entry_point or ""}
        for statement in self.check_def.body:
            self._statement(statement)
        self.renames = {}

    def _statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Assert):
            test = self._truth(statement.test)
            self.checks.append(Check(test, ast.unparse(statement.test), statement.lineno))
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            self._import(statement)
        elif isinstance(statement, ast.Assign) and _single_name(statement):
            target = statement.targets[0]
            assert isinstance(target, ast.Name)
            self._assign(target.id, statement.value)
        elif not _is_inert(statement):
            raise NotCompilable(type(statement).__name__)

    def _import(self, statement: ast.Import | ast.ImportFrom) -> None:
        for alias in statement.names:
            if alias.name == "*" or isinstance(statement, ast.ImportFrom) and statement.level:
                raise NotCompilable("star or relative import")
            local = alias.asname or alias.name.split(".")[0]
            self._forget(local)
            if isinstance(statement, ast.Import):
                self.modules[local] = alias.name if alias.asname else local
            else:
                self.modules[local] = f"{statement.module}.{alias.name}"
        self.setup.append(ast.unparse(statement))

    def _assign(self, name: str, value: ast.expr) -> None:
        host = self._constant(value)
        self._forget(name)
        if host is not None:
            self.consts[name] = (host, value)
            return
        self.steps.append(_Step(self._probe_source(value), name, False))
        self.probe_names[name] = len(self.steps) - 1

    def _forget(self, name: str) -> None:
        self.consts.pop(name, None)
        self.probe_names.pop(name, None)
        self.modules.pop(name, None)

    # --- expressions -----------------------------------------------------------------------

    def _truth(self, node: ast.expr) -> Node:
        """A truth test: a probe at its top reports `bool(...)` of itself, so that a returned
        object that is no plain data (a `re.Match`, say) still answers `assert m(...)`; the
        program decides such a test's truth either way."""
        if isinstance(node, ast.BoolOp):
            return BoolOp(type(node.op).__name__, tuple(self._truth(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Unary("Not", self._truth(node.operand))
        if self._is_leaf(node):
            truth = ast.Call(func=ast.Name("bool", ast.Load()), args=[node], keywords=[])
            return self._probe(ast.copy_location(truth, node))
        return self._expr(node)

    def _is_leaf(self, node: ast.expr) -> bool:
        """True when `node` would become one probe as a whole."""
        if isinstance(node, ast.Name):
            return node.id in self.probe_names or self._program_name(node.id)
        host_shapes = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Tuple, ast.List)
        if isinstance(node, (*host_shapes, ast.Set, ast.Constant, ast.Attribute)):
            return False
        if isinstance(node, ast.Call) and self._host_function(node.func) is not None:
            return False
        return self._constant(node) is None

    def _expr(self, node: ast.expr) -> Node:
        """The host expression for `node`: host logic where it can, probes at the leaves."""
        constant = self._constant(node)
        if constant is not None:
            return Const(constant[0])
        host = self._host(node)
        return host if host is not None else self._probe(node)

    def _constant(self, node: ast.expr) -> tuple[Any] | None:
        """`(value,)` when `node` is known on the host without the program, else None."""
        try:
            return (ast.literal_eval(node),)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        if not self._host_only(node):
            return None
        host = self._host(node)
        if host is None:
            return None
        try:
            return (evaluate(host, {}),)
        except HostEvalError as exc:  # the test itself would raise: leave it to the sandbox
            raise NotCompilable(str(exc)) from None

    def _host_only(self, node: ast.expr) -> bool:
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
        return all(self._host_name(name) is not None for name in names)

    def _host_name(self, name: str) -> Node | None:
        if name in self.renames or name == self.entry_point:
            return None
        if name in self.probe_names:
            return None
        if name in self.consts:
            return Const(self.consts[name][0])
        if name in PLAIN_TYPES and not self._shadowed(name):
            return Const(PLAIN_TYPES[name])
        if name in HOST_FUNCTIONS or name in self.modules:
            return Const(None)  # a function name: only meaningful as a call, see _call
        return None

    def _host(self, node: ast.expr) -> Node | None:
        """Host logic at `node`, or None when `node` must be a probe."""
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            return BoolOp(type(node.op).__name__, tuple(self._expr(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Invert):
            return Unary(type(node.op).__name__, self._expr(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op).__name__ in BINARY_OPS:
            return Binary(type(node.op).__name__, self._expr(node.left), self._expr(node.right))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and not _has_starred(node.elts):
            return Display(type(node).__name__, tuple(self._expr(e) for e in node.elts))
        return None

    def _name(self, name: str) -> Node | None:
        if name in self.renames:
            return None
        if name in self.probe_names:
            step = self.probe_names[name]
            self.steps[step].report = True
            return Probe(step)
        if name in self.consts:
            return Const(self.consts[name][0])
        if name in PLAIN_TYPES and not self._shadowed(name):
            return Const(PLAIN_TYPES[name])
        return None

    def _attribute(self, node: ast.Attribute) -> Node | None:
        if not isinstance(node.value, ast.Name) or node.value.id not in self.modules:
            return None
        dotted = f"{self.modules[node.value.id]}.{node.attr}"
        return Const(HOST_CONSTANTS[dotted]) if dotted in HOST_CONSTANTS else None

    def _compare(self, node: ast.Compare) -> Node:
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.Is | ast.IsNot) and not (_singleton(left) or _singleton(right)):
                raise NotCompilable("`is` with something other than None, True or False")
        left_node = self._expr(node.left)
        rights = tuple(self._expr(c) for c in node.comparators)
        return Compare(left_node, tuple(type(op).__name__ for op in node.ops), rights)

    def _call(self, node: ast.Call) -> Node | None:
        function = self._host_function(node.func)
        if function is None or _has_starred(node.args) or any(k.arg is None for k in node.keywords):
            return None
        args = tuple(self._expr(a) for a in node.args)
        kwargs = tuple((k.arg or "", self._expr(k.value)) for k in node.keywords)
        return Call(function, args, kwargs)

    def _host_function(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            if func.id in self.modules:
                imported = self.modules[func.id]
                return imported if imported in HOST_FUNCTIONS else None
            return func.id if func.id in HOST_FUNCTIONS and not self._shadowed(func.id) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            dotted = f"{self.modules.get(func.value.id, '')}.{func.attr}"
            return dotted if dotted in HOST_FUNCTIONS else None
        return None

    def _shadowed(self, name: str) -> bool:
        """A builtin's name the test rebinds, or the program defines as its entry point."""
        tables = (self.consts, self.probe_names, self.renames)
        return name == self.entry_point or any(name in table for table in tables)

    # --- probes ----------------------------------------------------------------------------

    def _probe(self, node: ast.expr) -> Probe:
        self.steps.append(_Step(self._probe_source(node), "", True))
        return Probe(len(self.steps) - 1)

    def _probe_source(self, node: ast.expr) -> str:
        """The code the sandbox evaluates: it must call into the program, and compare nothing
        (a comparison there would run the program's objects against our values)."""
        if any(isinstance(n, ast.Compare) for n in ast.walk(node)):
            raise NotCompilable("a comparison inside the program's side")
        bound = _locally_bound(node)
        loads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - bound
        if not any(self._program_name(name) for name in loads):
            raise NotCompilable("an operand that never calls the program")
        return ast.unparse(_Inline(self, bound).visit(copy.deepcopy(node)))

    def _program_name(self, name: str) -> bool:
        if name in self.renames or name in self.probe_names or name == self.entry_point:
            return True
        known = name in self.consts or name in self.modules or hasattr(builtins, name)
        return not known


class _Inline(ast.NodeTransformer):
    """Renames check()'s parameter to the entry point and writes constants out in full."""

    def __init__(self, compiler: _Compiler, bound: set[str]) -> None:
        self.compiler = compiler
        self.bound = bound

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.bound:
            return node
        if node.id in self.compiler.renames:
            return ast.copy_location(ast.Name(self.compiler.renames[node.id], node.ctx), node)
        if node.id in self.compiler.consts:
            return copy.deepcopy(self.compiler.consts[node.id][1])
        return node


def _locally_bound(node: ast.expr) -> set[str]:
    """Names a comprehension, lambda or walrus binds inside `node`."""
    bound: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
            bound.add(inner.id)
        elif isinstance(inner, ast.Lambda):
            bound.update(a.arg for a in ast.walk(inner.args) if isinstance(a, ast.arg))
    return bound


def _single_name(statement: ast.Assign) -> bool:
    return len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)


def _is_inert(statement: ast.stmt) -> bool:
    """A docstring or `pass`."""
    if isinstance(statement, ast.Pass):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _is_check_call(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    return isinstance(func, ast.Name) and func.id == "check" and len(statement.value.args) == 1


def _singleton(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is s for s in SINGLETONS)


def _has_starred(nodes: list[ast.expr]) -> bool:
    return any(isinstance(n, ast.Starred) for n in nodes)
