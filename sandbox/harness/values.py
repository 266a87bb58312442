"""Laundering: a program's values rebuilt from exact builtin types, so that their `__eq__`
cannot lie, and laundered data as JSON data (a functional case's returned value).
"""

from __future__ import annotations

import decimal
import types
from typing import Any

# bundle: strip-start (bundled, the files before this one define these names)
from sandbox.harness.pinned import _frozenset, _isinstance, _list, _tuple, _type
from sandbox.protocol import MAX_VALUE_DEPTH, Iterated

# bundle: strip-end


EXACT_TYPES = (decimal.Decimal, range)
# Classes a sandbox-judged test may compare (`type(x) == list`), matched by identity.
PLAIN_TYPES = (int, float, str, bool, list, tuple, dict, set, frozenset, complex, bytes)
ITERATOR_TYPES: tuple[type, ...] = (
    types.GeneratorType,
    map,
    filter,
    zip,
    enumerate,
    reversed,
    type(iter([])),
    type(iter(())),
    type(iter(range(0))),
    type(iter("")),
    type(iter(set())),
    type(iter({})),
    type({}.keys()),
    type({}.values()),
    type({}.items()),
)


def _one_of(kind: type, kinds: tuple[type, ...]) -> bool:
    """Membership by identity: `kind in kinds` would ask a metaclass's `__eq__`."""
    return any(kind is candidate for candidate in kinds)


def launder(value: Any, depth: int = 0, *, iterators: bool = False) -> Any:
    """Rebuild a value from exact builtin types, so its `__eq__` cannot lie.

    The base types' own slots are called (`int.__int__(x)`, not `int(x)`), so a subclass that
    overrides conversions or comparisons is read for what it really holds. With `iterators`,
    a builtin iterator (generator, map, ...) is consumed into an `Iterated`.
    """
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"value nests deeper than {MAX_VALUE_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    if _isinstance(value, int):
        return int.__int__(value)
    if _isinstance(value, float):
        return float.__float__(value)
    if _isinstance(value, str):
        return str.__str__(value)
    if _isinstance(value, complex):
        return complex.__complex__(value)
    kind = _type(value)
    if _one_of(kind, EXACT_TYPES):
        return value  # immutable C types: their comparisons cannot be patched
    if iterators and _one_of(kind, ITERATOR_TYPES):
        return Iterated(_tuple(launder(v, depth + 1, iterators=True) for v in _list(value)))
    return _launder_container(value, depth, iterators)


def _launder_container(value: Any, depth: int, iterators: bool) -> Any:
    def inner(item: Any) -> Any:
        return launder(item, depth + 1, iterators=iterators)

    if _isinstance(value, list):
        return [inner(v) for v in list.__iter__(value)]
    if _isinstance(value, tuple):
        return _tuple(inner(v) for v in tuple.__iter__(value))
    if _isinstance(value, dict):
        return {inner(k): inner(v) for k, v in dict.items(value)}
    if _isinstance(value, set):
        return {inner(v) for v in set.__iter__(value)}
    if _isinstance(value, frozenset):
        return _frozenset(inner(v) for v in frozenset.__iter__(value))
    if _isinstance(value, bytes):
        return bytes.__bytes__(value)
    raise TypeError(f"returned a {_type(value).__name__}, which is not plain data")


def _to_json_data(value: Any) -> Any:
    """Laundered data as JSON data: tuples become lists; sets and bytes are not JSON."""
    if _isinstance(value, list | tuple):
        return [_to_json_data(v) for v in value]
    if _isinstance(value, dict):
        if not all(_type(k) is str for k in value):
            raise TypeError("returned a dict with non-string keys, which JSON cannot hold")
        return {k: _to_json_data(v) for k, v in value.items()}
    if _isinstance(value, set | frozenset | bytes):
        raise TypeError(f"returned a {_type(value).__name__}, which JSON cannot hold")
    return value
