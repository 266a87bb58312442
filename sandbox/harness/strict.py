"""Sandbox-judged test code made strict: its comparisons, arithmetic and truth tests are
rewritten onto laundered operands, the helpers they call are bound as constants, and it runs in
a namespace of its own over the real builtins, so names the program rebinds do not reach it.
"""

from __future__ import annotations

import ast
import os
import types
import warnings
from collections.abc import Callable
from typing import Any

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import (
    REAL_BUILTINS,
    _bool,
    _compile,
    _dict,
    _isinstance,
    _parse,
    _repr,
    _type,
)
from sandbox.harness.values import PLAIN_TYPES, _one_of, launder
from sandbox.protocol import BINARY_OPS, COMPARE_OPS, TEST_FILE

# bundle: strip-end


# Each failed comparison's two sides, so that `describe_error` can show a failed assert's last.
MISMATCHES: list[tuple[str, str]] = []


def _plain(value: Any) -> Any:
    """A test operand, laundered: plain data, or one of the builtin classes by identity."""
    if _isinstance(value, type) and _one_of(value, PLAIN_TYPES):
        return value
    try:
        return launder(value)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"cannot compare: {exc}") from None


def strict_compare(left: Any, pairs: list[tuple[str, Any]]) -> bool:
    """A comparison chain of a sandbox-judged test, on laundered operands; remembers a miss."""
    current = left
    for name, right in pairs:
        # Identity asks no object anything; every other comparison runs on laundered values.
        identity = name in ("Is", "IsNot")
        current, other = (current, right) if identity else (_plain(current), _plain(right))
        if not _bool(COMPARE_OPS[name](current, other)):
            MISMATCHES.append((_repr(current)[:1000], _repr(other)[:1000]))
            return False
        current = other
    return True


def strict_equal(left: Any, right: Any) -> bool:
    """`left == right` on laundered copies of both sides."""
    return strict_compare(left, [("Eq", right)])


def strict_binary(name: str, left: Any, right: Any) -> Any:
    """Arithmetic of a sandbox-judged test on laundered operands (`abs(a - b) < eps`)."""
    return BINARY_OPS[name](_plain(left), _plain(right))


def strict_truth(value: Any) -> bool:
    """Truthiness of a laundered value; of an object that is no plain data (a `re.Match`),
    its own, since the program decides a bare truth test's outcome either way."""
    try:
        return _bool(launder(value))
    except (TypeError, ValueError):
        return _bool(value)


# Rewritten test code calls the strict helpers through placeholder constants, which
# `_bind_helpers` swaps for the functions themselves: a name in the shared namespace could be
# rebound by the program while the test runs, a code object's constants cannot.
_HELPER_MARK = "\x00retrospect-helper:" + os.urandom(8).hex() + ":"


def _helper(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Constant(_HELPER_MARK + name), args=list(args), keywords=[])


class _StrictOperations(ast.NodeTransformer):
    """Rewrites a test's comparisons, arithmetic and truth tests onto laundered values."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        pairs = ast.List(
            elts=[
                ast.Tuple(elts=[ast.Constant(_type(op).__name__), right], ctx=ast.Load())
                for op, right in zip(node.ops, node.comparators, strict=True)
            ],
            ctx=ast.Load(),
        )
        return ast.copy_location(_helper("__retrospect_compare__", node.left, pairs), node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = _type(node.op).__name__
        if name not in BINARY_OPS:
            return node
        call = _helper("__retrospect_binary__", ast.Constant(name), node.left, node.right)
        return ast.copy_location(call, node)

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        node.test = _boolean(node.test)
        return node


def _boolean(node: ast.expr) -> ast.expr:
    """A truth test whose leaves are judged by `strict_truth`."""
    if isinstance(node, ast.BoolOp):
        node.values = [_boolean(v) for v in node.values]
        return node
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        node.operand = _boolean(node.operand)
        return node
    return ast.copy_location(_helper("__retrospect_truth__", node), node)


def compile_tests(code: str) -> types.CodeType:
    """Sandbox-judged test code on laundered operations, compiled under its own file name."""
    tree = ast.fix_missing_locations(_StrictOperations().visit(_parse(code, TEST_FILE)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # "'str' object is not callable"
        compiled: types.CodeType = _compile(tree, TEST_FILE, "exec")
    return _bind_helpers(compiled)


STRICT_HELPERS: dict[str, Callable[..., Any]] = {
    "__retrospect_compare__": strict_compare,
    "__retrospect_binary__": strict_binary,
    "__retrospect_truth__": strict_truth,
}
_BY_MARK = {_HELPER_MARK + name: helper for name, helper in STRICT_HELPERS.items()}


def _bind_helpers(code: types.CodeType) -> types.CodeType:
    constants = tuple(
        _bind_helpers(c)
        if isinstance(c, types.CodeType)
        else _BY_MARK.get(c, c)
        if type(c) is str
        else c
        for c in code.co_consts
    )
    return code.replace(co_consts=constants)


def test_namespace(program: dict[str, Any], entry_name: str) -> dict[str, Any]:
    """The globals of sandbox-judged test code: the program's names, except those that rebind
    a builtin (other than the entry point, which the test means), over a fresh copy of the
    real builtins. What the program later rebinds in its own namespace or in `builtins` does
    not reach the test."""
    names = {
        name: value
        for name, value in dict.items(program)
        if _type(name) is str
        and (name == entry_name or not dict.__contains__(REAL_BUILTINS, name))
        and not name.startswith("__")
    }
    names["__builtins__"] = _dict(REAL_BUILTINS)
    names["__name__"] = "__retrospect_tests__"
    return names
