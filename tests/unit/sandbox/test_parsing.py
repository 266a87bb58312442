"""Parsing foreign Python: its warnings stay its own, concurrent parses agree, failures are None."""

from __future__ import annotations

import ast
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.parsing import compiles, parse_foreign

WARNS_WHEN_PARSED = 'x = 1\nprint(x is 1, "\\d")\n'  # SyntaxWarning, DeprecationWarning


def test_a_warning_of_the_source_does_not_reach_the_host() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(parse_foreign(WARNS_WHEN_PARSED), ast.Module)
        assert compiles(WARNS_WHEN_PARSED) is not None


def test_the_hosts_warning_filters_are_restored() -> None:
    before = list(warnings.filters)
    parse_foreign(WARNS_WHEN_PARSED)
    assert warnings.filters == before


def test_parse_foreign_raises_what_ast_parse_raises() -> None:
    with pytest.raises(SyntaxError):
        parse_foreign("def f(:\n")


@pytest.mark.parametrize(
    "source",
    ["", "def f(:\n", "nonlocal x\n", "return 1\n", "x = 1\0\n", "(" * 500 + ")" * 500],
    ids=["empty", "syntax", "symbol-table", "return-outside", "nul", "deep"],
)
def test_what_does_not_compile_is_none(source: str) -> None:
    assert compiles(source) is None


def test_concurrent_parses_agree_with_sequential() -> None:
    sources = [f"def f{i}(x):\n    return [x + j for j in range({i})]\n" for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda s: ast.dump(parse_foreign(s)), sources))
    assert together == [ast.dump(parse_foreign(s)) for s in sources]
