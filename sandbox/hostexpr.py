"""Test logic the host evaluates over laundered probe values: comparisons, truth, arithmetic.

A host-judged assert case (see `sandbox.asserts`) is a list of checks whose leaves are constants
(expected values, never sent to the sandbox) and probes (what the sandbox reported). Every
operation here runs on exact builtin values, so no program object's method is ever called, and
each one costs time about linear in its operands (every value arrives within the budgets of
`sandbox.protocol`, big-number arithmetic is refused, `sum` adds numbers only, hashing is guarded
against collisions), and a case's checks together get a CPU-time budget: a hostile value cannot
hold the host up, and any error here (MemoryError included) is that test's failure.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.protocol import BINARY_OPS, COMPARE_OPS, MAX_RANGE_ITEMS, Iterated, check_hashes

MAX_ARITHMETIC_BITS = 100_000
# CPU seconds all host-side checks of one case may take together; honest checks take
# microseconds. Thread CPU time, so load on the host cannot trip it.
HOST_CHECK_CPU_S = 2.0
NUMBER_TYPES = (bool, int, float, complex)
PLAIN_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset, range)
}
PLAIN_TYPES["NoneType"] = type(None)


class HostEvalError(Exception):
    """The test's own logic failed on the host (a TypeError in `sorted`, say): as in Python,
    the program's values made the test raise."""


@dataclass
class CheckBudget:
    """The CPU time left to a case's host-side checks, read from `clock` at every node."""

    cpu_s: float = HOST_CHECK_CPU_S
    clock: Callable[[], float] = time.thread_time
    started: float = field(default=-1.0)

    def charge(self) -> None:
        now = self.clock()
        if self.started < 0:
            self.started = now
        elif now - self.started > self.cpu_s:
            raise HostEvalError("the host-side check ran past its time budget")


class ProbeMissing(Exception):
    """A probe the check needs never reported: the case ended (or was cut) before it."""


class ProbeFailed(Exception):
    """A probe raised inside the sandbox; `error` is the harness's description of it."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(str(error.get("type", "error")))
        self.error = error


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe reported: a decoded value, or an error description."""

    value: Any = None
    error: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Const:
    """A value known on the host: expected values and other test constants."""

    value: Any


@dataclass(frozen=True)
class Probe:
    """The laundered value reported by step `index`, a snapshot of what step `origin` evaluated
    (the same step when nothing of the program ran in between): the object as it was when
    Python would have compared it. A failure of `origin` is the probe's failure."""

    index: int
    origin: int = -1

    @property
    def source_step(self) -> int:
        """The step that evaluated the program's side."""
        return self.index if self.origin < 0 else self.origin


@dataclass(frozen=True)
class Compare:
    """A comparison chain, `left op1 right1 op2 right2 ...`, with Python's ast op names."""

    left: Node
    ops: tuple[str, ...]
    rights: tuple[Node, ...]


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or`, short-circuiting as in Python."""

    op: str
    values: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    """`not`, unary minus or plus."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    """Arithmetic on numbers only."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    """A function the host evaluates itself (`HOST_FUNCTIONS`), on evaluated arguments."""

    function: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class Display:
    """A tuple, list or set display with evaluated elements."""

    kind: str
    elements: tuple[Node, ...]


Node = Const | Probe | Compare | BoolOp | Unary | Binary | Call | Display


def _items(value: Any) -> Any:
    return value.items if type(value) is Iterated else value


def _hashed(build: Callable[[Any], Any]) -> Callable[..., Any]:
    def guarded(value: Any = ()) -> Any:
        items = list(_items(value))
        try:
            check_hashes(items)
        except ValueError as exc:
            raise HostEvalError(str(exc)) from None
        return build(items)

    return guarded


def _isinstance(value: Any, kinds: Any) -> bool:
    options = kinds if type(kinds) is tuple else (kinds,)
    if not all(any(kind is plain for plain in PLAIN_TYPES.values()) for kind in options):
        raise HostEvalError("isinstance() takes builtin types here")
    return isinstance(value, options)


def _sorted(value: Any, reverse: bool = False) -> list[Any]:
    return sorted(_items(value), reverse=bool(reverse))


def _round(value: Any, ndigits: Any = None) -> Any:
    # round(5, -10**18) would build 10**(10**18): the digits asked for are bounded.
    if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > 400):
        raise HostEvalError("round() to that many digits is not judged on the host")
    return round(value) if ndigits is None else round(value, ndigits)


def _range(*bounds: Any) -> range:
    # A range is lazy, but list(range(10**12)) on the host is not: its length is bounded.
    result = range(*bounds)
    if len(result) > MAX_RANGE_ITEMS:
        raise HostEvalError("a range this long is not judged on the host")
    return result


def _sum(value: Any, start: Any = 0) -> Any:
    # Numbers only: sum(lists, []) copies its growing total at every step (quadratic).
    items = list(_items(value))
    for item in (start, *items):
        _require_number(item)
    return sum(items, start)


def _reversed(value: Any) -> Iterated:
    return Iterated(tuple(reversed(list(_items(value)))))


HOST_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "range": _range,
    "reversed": _reversed,
    "abs": abs,
    "len": lambda value: len(_items(value)),
    "set": _hashed(set),
    "frozenset": _hashed(frozenset),
    "list": lambda value=(): list(_items(value)),
    "tuple": lambda value=(): tuple(_items(value)),
    "sorted": _sorted,
    "sum": _sum,
    "min": lambda *values: min(*(_items(v) for v in values)),
    "max": lambda *values: max(*(_items(v) for v in values)),
    "any": lambda value: any(_items(value)),
    "all": lambda value: all(_items(value)),
    "round": _round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "isinstance": _isinstance,
    "type": type,
    "math.isclose": math.isclose,
    "math.fabs": math.fabs,
}
HOST_CONSTANTS: dict[str, Any] = {
    "math.pi": math.pi,
    "math.e": math.e,
    "math.tau": math.tau,
    "math.inf": math.inf,
    "math.nan": math.nan,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "Not": operator.not_,
    "USub": operator.neg,
    "UAdd": operator.pos,
}


def evaluate(
    node: Node, probes: Mapping[int, ProbeOutcome], budget: CheckBudget | None = None
) -> Any:
    """The value of `node` given the probes' outcomes; raises ProbeMissing, ProbeFailed or
    HostEvalError: any exception the test's own logic raised on the program's values, any
    failure of the host's own (a MemoryError), or the budget running out."""
    try:
        return _Evaluator(probes, budget or CheckBudget()).evaluate(node)
    except (ProbeMissing, ProbeFailed, HostEvalError):
        raise
    except Exception as exc:  # whatever it was, it is this test's failure
        raise HostEvalError(f"{type(exc).__name__}: {_message(exc)}") from None


def _message(exc: Exception) -> str:
    try:
        return str(exc)[:500]
    except Exception:  # an exception whose text cannot even be built
        return ""


@dataclass
class _Evaluator:
    """One evaluation: the probes' outcomes, and the budget charged at every node."""

    probes: Mapping[int, ProbeOutcome]
    budget: CheckBudget

    def evaluate(self, node: Node) -> Any:
        self.budget.charge()
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Probe):
            return self._probe(node)
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, BoolOp):
            return self._bool_op(node)
        if isinstance(node, Unary):
            return _unary(node.op, self.evaluate(node.operand))
        if isinstance(node, Binary):
            return _binary(node.op, self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(node, Call):
            args = [self.evaluate(a) for a in node.args]
            kwargs = {name: self.evaluate(value) for name, value in node.kwargs}
            return HOST_FUNCTIONS[node.function](*args, **kwargs)
        return _display(node.kind, [self.evaluate(e) for e in node.elements])

    def _probe(self, probe: Probe) -> Any:
        for index in dict.fromkeys((probe.source_step, probe.index)):
            outcome = self.probes.get(index)
            if outcome is None:
                raise ProbeMissing(index)
            if outcome.error is not None:
                raise ProbeFailed(outcome.error)
        return self.probes[probe.index].value

    def _compare(self, node: Compare) -> bool:
        left = self.evaluate(node.left)
        for op, right_node in zip(node.ops, node.rights, strict=True):
            right = self.evaluate(right_node)
            if not bool(COMPARE_OPS[op](left, right)):
                return False
            left = right
        return True

    def _bool_op(self, node: BoolOp) -> Any:
        value: Any = node.op == "And"
        for child in node.values:
            value = self.evaluate(child)
            if bool(value) != (node.op == "And"):
                return value
        return value


def _unary(op: str, value: Any) -> Any:
    if op != "Not":
        _require_number(value)
    return _UNARY[op](value)


def _binary(op: str, left: Any, right: Any) -> Any:
    _require_number(left)
    _require_number(right)
    return BINARY_OPS[op](left, right)


def _require_number(value: Any) -> None:
    if not any(type(value) is kind for kind in NUMBER_TYPES):
        raise HostEvalError(f"arithmetic on a {type(value).__name__} is not judged on the host")
    if type(value) is int and value.bit_length() > MAX_ARITHMETIC_BITS:
        raise HostEvalError("arithmetic on a number this large is not judged on the host")


def _display(kind: str, elements: Iterable[Any]) -> Any:
    if kind == "List":
        return list(elements)
    if kind == "Set":
        return HOST_FUNCTIONS["set"](list(elements))
    return tuple(elements)


def safe_repr(value: Any, limit: int = 1000) -> str:
    """`repr` for feedback, cut at `limit`, never raising on a huge number."""
    try:
        text = repr(value)
    except Exception:  # an int beyond str()'s digit limit, a MemoryError
        text = f"<a number of {value.bit_length()} bits>" if type(value) is int else "<value>"
    return text if len(text) <= limit else text[:limit] + "..."
