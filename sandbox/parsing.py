"""Parsing Python the host did not write: responses, test code, imported problem sets."""

from __future__ import annotations

import ast
import contextlib
import threading
import warnings
from collections.abc import Iterator

# CPython 3.11's parser is not safe under concurrent use from threads (python/cpython#106905:
# "AST constructor recursion depth mismatch"), and warnings filters are process-wide.
_PARSE_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_parser() -> Iterator[None]:
    # A program's `x is 1` or an MBPP reference's "\d" warns while it parses; it still parses,
    # and the warning is the source's business, not the host's.
    with _PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        yield


def parse_foreign(source: str, filename: str = "<foreign>") -> ast.Module:
    """`ast.parse` under one lock with the source's own warnings silenced; raises as it does."""
    with _quiet_parser():
        return ast.parse(source, filename)


def compiles(source: str, filename: str = "<foreign>") -> ast.Module | None:
    """The module's syntax tree when it compiles (symbol-table errors included), else None."""
    if not source:
        return None
    try:
        with _quiet_parser():
            tree = ast.parse(source, filename)
            compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError, SystemError):
        return None
    return tree
