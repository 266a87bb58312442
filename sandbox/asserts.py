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
    """One statement the host judges, in order: an assert (its test as a host expression), or
    an assignment's probe (`kind="run"`: `test` is that probe, and only whether it ran without
    failing counts, as Python would stop the test on it)."""

    test: Node
    source: str
    line: int
    kind: str = "assert"

    @property
    def statement(self) -> str:
        """The statement as the feedback shows it."""
        return f"assert {self.source}" if self.kind == "assert" else self.source


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
    of: int = -1


@dataclass(frozen=True)
class _Held(Probe):
    """A probe's object, evaluated but not yet consumed by an operation: it is snapshotted
    (see `_Compiler._consume`) where Python would read it. `name`: bound by `name = ...`."""

    name: str = ""


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
        self.last_eval = -1  # the last step that ran program code
        self.evals = 0  # how many such steps there are

    def compile(self, code: str) -> CompiledAssert:
        for statement in parse_foreign(code, "<test>").body:
            self._top(statement)
        if self.check_def is not None:
            self._run_check()  # the harness calls check(candidate) after the test code
        if not any(check.kind == "assert" for check in self.checks):
            raise NotCompilable("no assert")
        steps = tuple(ProbeStep(s.source, s.target, s.report, s.of) for s in self.steps)
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
            test = self._consume(self._truth(statement.test, must_hold=True))
            if _holds_unread(test):
                raise NotCompilable("a probe no operation reads")  # never judged on "ran"
            self.checks.append(Check(test, ast.unparse(statement.test), statement.lineno))
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            self._import(statement)
        elif isinstance(statement, ast.Assign) and _single_name(statement):
            target = statement.targets[0]
            assert isinstance(target, ast.Name)
            self._assign(target.id, statement.value, statement)
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

    def _assign(self, name: str, value: ast.expr, statement: ast.Assign) -> None:
        host = self._constant(value)
        self._forget(name)
        if host is not None:
            self.consts[name] = (host, value)
            return
        step = self._evaluate(_Step(self._probe_source(value), name, False))
        self.probe_names[name] = step
        # Python stops the test here if the call raises, whatever later asserts name.
        self.checks.append(Check(Probe(step), ast.unparse(statement), statement.lineno, "run"))

    def _forget(self, name: str) -> None:
        self.consts.pop(name, None)
        self.probe_names.pop(name, None)
        self.modules.pop(name, None)

    # --- expressions -----------------------------------------------------------------------

    def _truth(self, node: ast.expr, must_hold: bool) -> Node:
        """A truth test: a probe at its top reports `bool(...)` of itself, so that a returned
        object that is no plain data (a `re.Match`, say) still answers `assert m(...)`; the
        program decides such a test's truth either way.

        `must_hold`: the assert passes only if this is true (false under a `not`). Where
        Python's short-circuit would skip an operand and let the test go on, that operand may
        not call the program: the sandbox runs every probe, and a skipped one could have
        raised, hung or changed what a later assert reads.
        """
        if isinstance(node, ast.BoolOp):
            continues_on = "And" if not must_hold else "Or"
            first, *rest = node.values
            values = [self._truth(first, must_hold)]
            for value in rest:
                values.append(
                    self._guarded(type(node.op).__name__ == continues_on, value, must_hold)
                )
            return BoolOp(type(node.op).__name__, tuple(values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Unary("Not", self._truth(node.operand, not must_hold))
        if self._is_leaf(node):
            truth = ast.Call(func=ast.Name("bool", ast.Load()), args=[node], keywords=[])
            return self._probe(ast.copy_location(truth, node), report=True)
        return self._consume(self._expr(node))

    def _guarded(self, skippable: bool, node: ast.expr, must_hold: bool) -> Node:
        before = self.evals
        result = self._truth(node, must_hold)
        if skippable and self.evals != before:
            raise NotCompilable("a call Python could skip, with the test going on")
        return result

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
            # Its value is one of its operands, read later: only host values here.
            before = self.evals
            values = tuple(self._expr(v) for v in node.values)
            if self.evals != before:
                raise NotCompilable("and/or over calls outside a truth test")
            return BoolOp(type(node.op).__name__, values)
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Invert):
            return Unary(type(node.op).__name__, self._consume(self._expr(node.operand)))
        if isinstance(node, ast.BinOp) and type(node.op).__name__ in BINARY_OPS:
            left, right = self._expr(node.left), self._expr(node.right)
            return Binary(type(node.op).__name__, self._consume(left), self._consume(right))
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
            return _Held(self.probe_names[name], name=name)
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
        rights = [self._expr(node.comparators[0])]
        before = self.evals
        rights += [self._expr(c) for c in node.comparators[1:]]
        if self.evals != before:
            # a < f() < g(): g() runs after the first link compared; and is skipped when it
            # fails. Only the first link's operands may call the program.
            raise NotCompilable("a comparison chain calling the program past its first link")
        consumed = tuple(self._consume(n) for n in (left_node, *rights))
        return Compare(consumed[0], tuple(type(op).__name__ for op in node.ops), consumed[1:])

    def _call(self, node: ast.Call) -> Node | None:
        function = self._host_function(node.func)
        if function is None or _has_starred(node.args) or any(k.arg is None for k in node.keywords):
            return None
        args = tuple(self._expr(a) for a in node.args)
        kwargs = tuple((k.arg or "", self._expr(k.value)) for k in node.keywords)
        args = tuple(self._consume(a) for a in args)
        kwargs = tuple((name, self._consume(value)) for name, value in kwargs)
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

    def _probe(self, node: ast.expr, report: bool = False) -> Probe:
        """A step evaluating `node` in the sandbox; its object is held until consumed, unless
        `report` (a truth leaf, read at once)."""
        step = self._evaluate(_Step(self._probe_source(node), "", report))
        return Probe(step) if report else _Held(step)

    def _evaluate(self, step: _Step) -> int:
        self.steps.append(step)
        self.last_eval = len(self.steps) - 1
        self.evals += 1
        return self.last_eval

    def _consume(self, node: Node) -> Node:
        """`node` as an operation reads it now: each held probe directly in it (through
        displays, which only hold references) is reported as its object is at this point.
        When no program code ran since the probe was evaluated, that is its own step's report;
        otherwise a later step reports it again (the program may have changed it since)."""
        if isinstance(node, Display):
            return Display(node.kind, tuple(self._consume(e) for e in node.elements))
        if not isinstance(node, _Held):
            return node
        if node.index == self.last_eval:
            self.steps[node.index].report = True
            return Probe(node.index)
        again = _Step(node.name, "", True) if node.name else _Step("", "", True, node.index)
        self.steps.append(again)
        return Probe(len(self.steps) - 1, node.index)

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


def _holds_unread(node: Node) -> bool:
    """True when a probe in `node` was never consumed (its step reports no value)."""
    if isinstance(node, _Held):
        return True
    children: list[Any] = [getattr(node, name, None) for name in ("left", "right", "operand")]
    children += [*getattr(node, "rights", ()), *getattr(node, "values", ())]
    children += [*getattr(node, "args", ()), *getattr(node, "elements", ())]
    children += [value for _, value in getattr(node, "kwargs", ())]
    return any(_holds_unread(child) for child in children if child is not None)


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
