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

from sandbox.hostexpr import (
    HOST_FUNCTIONS,
    Binary,
    Call,
    CheckBudget,
    Compare,
    Const,
    HostEvalError,
    evaluate,
)
from sandbox.protocol import (
    MAX_HASH_REPEATS,
    MAX_INT_BITS,
    MAX_RANGE_ITEMS,
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    Header,
    Iterated,
    OverBudget,
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


# Every size a program picks, one past the host's budget: the decoder refuses each as over
# budget (the program's failure), before building anything of that size.
@pytest.mark.parametrize(
    "wire",
    [
        ["r", "0x0", hex(10**18), "0x1"],
        ["r", hex(-(10**30)), hex(10**30), "0x1"],  # len() past sys.maxsize
        ["r", "0x0", hex(MAX_RANGE_ITEMS + 1), "0x1"],
        ["D", "1e999999999"],
        ["D", "1e-999999999"],
        ["D", "9" * 1500],
        ["i", "f" * (MAX_INT_BITS // 4 + 5)],
        ["l", [None] * MAX_VALUE_ITEMS],
        ["l", [["r", "0x0", hex(MAX_RANGE_ITEMS), "0x1"]] * (MAX_VALUE_ITEMS // MAX_RANGE_ITEMS)],
    ],
    ids=lambda wire: f"{wire[0]}-{str(wire[1])[:12]}",
)
def test_values_past_the_budgets_are_refused_as_over_budget(wire: Any) -> None:
    with pytest.raises(OverBudget):
        decode_value(wire)


def test_the_check_budget_stops_a_long_evaluation() -> None:
    ticks = iter(range(1000))
    budget = CheckBudget(cpu_s=5.0, clock=lambda: float(next(ticks)))
    deep: Any = Const(1)
    for _ in range(20):
        deep = Binary("Add", deep, Const(1))
    with pytest.raises(HostEvalError, match="time budget"):
        evaluate(deep, {}, budget)


def test_any_failure_of_host_evaluation_is_the_tests_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(*_: Any) -> Any:
        raise MemoryError

    monkeypatch.setitem(HOST_FUNCTIONS, "sorted", exhausted)
    with pytest.raises(HostEvalError, match="MemoryError"):
        evaluate(Compare(Call("sorted", (Const([2, 1]),)), ("Eq",), (Const([1, 2]),)), {})


def test_sum_adds_numbers_only() -> None:
    assert evaluate(Call("sum", (Const([1, 2.5]),)), {}) == 3.5
    with pytest.raises(HostEvalError):
        evaluate(Call("sum", (Const([[0]] * 3), Const([]))), {})
