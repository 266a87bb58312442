"""The wire format shared by host and harness: values round-trip exactly, and the host's
decoder refuses every malformed or hostile shape with a ValueError, never anything else."""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.hostexpr import Binary, Call, Const, HostEvalError, evaluate
from sandbox.protocol import (
    MAX_HASH_REPEATS,
    MAX_VALUE_DEPTH,
    Header,
    Iterated,
    decode_value,
    encode_value,
)

hashable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.binary(max_size=6),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    hashable | st.complex_numbers(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(hashable, inner, max_size=3)
        | st.sets(hashable, max_size=3)
        | st.lists(inner, max_size=3).map(lambda items: Iterated(tuple(items)))
    ),
    max_leaves=12,
)


def same(left: Any, right: Any) -> bool:
    """Equal with the same types all the way down (Iterated compared by its items)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, Iterated):
        return same(list(left.items), list(right.items))
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


@given(values)
def test_values_round_trip_exactly_through_json(value: Any) -> None:
    wire = json.loads(json.dumps(encode_value(value)))
    assert same(decode_value(wire), value)


def test_exact_scalars_survive() -> None:
    for value in (2**5000, -0.0, math.inf, 1e-310, decimal.Decimal("1.10"), range(1, 9, 2)):
        assert same(decode_value(json.loads(json.dumps(encode_value(value)))), value)


def nested(depth: int) -> Any:
    value: Any = None
    for _ in range(depth):
        value = ["l", [value]]
    return value


@pytest.mark.parametrize(
    "wire",
    [
        ["i", "zz"],
        ["i"],
        ["f", 1.5],
        ["nope", "1"],
        [],
        {"a": 1},
        5,
        ["l", "x"],
        ["d", [[1]]],
        ["s", [["l", []]]],  # an unhashable element
        ["s", [["i", hex(k * (2**61 - 1))] for k in range(1, 3 * MAX_HASH_REPEATS)]],
        ["d", [[["i", hex(k * (2**61 - 1))], None] for k in range(1, 3 * MAX_HASH_REPEATS)]],
        nested(MAX_VALUE_DEPTH + 5),
        ["r", "0x1", "0x5", "0x0"],  # a zero step
        ["D", "not a number"],
    ],
)
def test_malformed_values_are_refused(wire: Any) -> None:
    with pytest.raises(ValueError):
        decode_value(wire)


def test_the_header_round_trips_and_names_every_key_once() -> None:
    header = Header(
        program="x",
        kind="stdio",
        entry_point=None,
        n_cases=1,
        cpu_limit_s=3,
        case_wall_limit_s=7.0,
        suite_wall_limit_s=120.0,
        address_space_bytes=1 << 28,
        output_limit_bytes=1 << 20,
        attempt_output_limit_bytes=1 << 26,
        stderr_limit_bytes=1 << 16,
        file_size_limit_bytes=1 << 23,
        process_limit=64,
        drop_uid=None,
        kill_scope="group",
        check_ipc=False,
        scrub_dirs=[],
        workdir="/tmp",
    )
    assert Header.from_json(json.loads(json.dumps(header.to_json()))) == header


@pytest.mark.parametrize(
    "node",
    [
        Binary("Mult", Const(3**200_000), Const(3**200_000)),
        Call("round", (Const(5), Const(-(10**18)))),
        Call("list", (Call("range", (Const(10**12),)),)),
        Call("set", (Const([k * (2**61 - 1) for k in range(1, 100)]),)),
        Binary("Add", Const("a"), Const("b")),
        Call("isinstance", (Const(1), Const(Iterated))),
    ],
)
def test_the_host_refuses_work_a_hostile_value_could_make_unbounded(node: Any) -> None:
    with pytest.raises(HostEvalError):
        evaluate(node, {})
