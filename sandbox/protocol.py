"""The harness protocol, shared by the host and the in-sandbox harness: stdlib only.

The harness runs as one source string inside the sandbox (`sandbox.backends.base` bundles this
module in front of the modules of `sandbox/harness/`), so everything here is plain Python with
no package imports.

- stdin: length-prefixed JSON frames (`<bytes>\\n<json>`): a `Header`, then one case frame per
  case (`case_frame`); with `--serve` requests follow one another until stdin closes.
- stdout: one `CASE_KEYS` record per case, then a closing record (`CLOSING_KEYS`). The harness
  builds these itself; what the program produced travels inside them as plain strings
  (`stdout`, `stderr`, `report`), which the host parses as hostile data.
- The case process's report (fd `REPORT_FD`) is JSON lines: `{"value": json}` (functional),
  `{"probe": i, "value": tagged}`, `{"probe": i, "ran": true}` or `{"probe": i, "error": {...}}`
  (host-judged asserts),
  `{"error": {...}}`, and `{"completed": token}` (sandbox-judged asserts).
- Values of host-judged probes use the tagged encoding below (`encode_value`/`decode_value`):
  exact builtin types only, nothing a program's class can hide in.

See docs/sandbox.md for how judging uses this.
"""

from __future__ import annotations

import collections
import decimal
import json
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

PROGRAM_FILE = "Solution.py"
TEST_FILE = "Test.py"
# The case process's file descriptors beyond stdin, stdout and stderr.
REPORT_FD = 3
TESTS_FD = 4
SETUP_FD = 5
TOKEN_FD = 6
# The size of the box's /dev/shm (Docker's `shm_size`, and each attempt's fresh one).
SHM_MB = 4
MAX_VALUE_DEPTH = 100
# Each container level of a tagged value is two JSON levels, plus the record around it.
MAX_JSON_DEPTH = 2 * MAX_VALUE_DEPTH + 8
# A set or dict whose elements share a hash this often is a collision attack on the host.
MAX_HASH_REPEATS = 16
# The budget of one value crossing to the host: what the program can size (a range's length, a
# Decimal's exponent, an integer's digits, the number of items) is bounded here, so that every
# host operation on it costs what our limits allow, never what the program chose.
MAX_VALUE_ITEMS = 1_000_000
MAX_INT_BITS = 1_000_000
MAX_RANGE_ITEMS = 100_000
MAX_DECIMAL_DIGITS = 1000
MAX_DECIMAL_EXPONENT = 1000
# Case statuses the harness writes; anything else in a record is a surprise.
STATUSES = ("exited", "wall_timeout", "output_limit", "stderr_limit", "compile_error", "skipped")
CASE_KEYS = {
    "index": int,
    "status": str,
    "exit_code": int,
    "cpu_s": float,
    "wall_s": float,
    "max_rss_kb": int,
    "baseline_rss_kb": int,  # the harness's own share of max_rss_kb, before the program ran
    "stdout": str,
    "stderr": str,
    "report": str,
    "setup_error": str,
    "token": str,
}
CLOSING_KEYS = {"done": bool, "clean_before": bool, "clean_after": bool}
# Case kinds as the harness runs them: the test kinds, with asserts split by who judges them.
FRAME_STDIO = "stdio"
FRAME_CALL = "call"
FRAME_PROBES = "probes"
FRAME_SCRIPT = "script"


# The one operator table of comparisons and arithmetic, shared by the harness (sandbox-judged
# tests, on laundered operands) and the host (host-judged checks): both decide `in`, `<` or `%`
# the same way. Keyed by Python's ast class names.
COMPARE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "Eq": operator.eq,
    "NotEq": operator.ne,
    "Lt": operator.lt,
    "LtE": operator.le,
    "Gt": operator.gt,
    "GtE": operator.ge,
    "Is": operator.is_,
    "IsNot": operator.is_not,
    "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
}
BINARY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mult": operator.mul,
    "Div": operator.truediv,
    "FloorDiv": operator.floordiv,
    "Mod": operator.mod,
    "Pow": operator.pow,
}


class Header(NamedTuple):
    """What the harness needs for one attempt; the host computes every limit in it.

    (A NamedTuple, not a dataclass: `dataclasses` imports `inspect`, which alone costs the
    harness 15 ms of start-up on every fresh sandbox.)
    """

    program: str
    kind: str
    entry_point: str | None
    n_cases: int
    cpu_limit_s: int
    case_wall_limit_s: float
    suite_wall_limit_s: float
    address_space_bytes: int
    output_limit_bytes: int
    attempt_output_limit_bytes: int
    stderr_limit_bytes: int
    file_size_limit_bytes: int
    process_limit: int
    drop_uid: int | None
    kill_scope: str
    check_ipc: bool
    scrub_dirs: list[str]
    workdir: str

    def to_json(self) -> dict[str, Any]:
        """The header as the frame's JSON object."""
        return dict(self._asdict())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Header:
        """The header from its frame (written by the host, so trusted)."""
        return cls(**{name: data[name] for name in cls._fields})


class ProbeStep(NamedTuple):
    """One step of a host-judged case, run in the sandbox in order (step index = probe id).

    It evaluates `source` (or, with `of` set, takes the object step `of` evaluated, as it is
    now); `target`, when set, binds the value to that name for later steps (`r = f(x)`);
    `report` says whether its laundered value goes back to the host. A step that does not
    report says `ran` instead, so that the host knows it ran without failing.
    """

    source: str
    target: str = ""
    report: bool = True
    of: int = -1


def case_frame(kind: str, **fields: Any) -> dict[str, Any]:
    """One case frame: `stdio` (input), `call` (args, kwargs), `probes` (setup, steps as
    `[source, target, report, of]` lists) or `script` (code)."""
    return {"frame": kind, **fields}


def frame(payload: dict[str, Any]) -> bytes:
    """One length-prefixed JSON frame."""
    data = json.dumps(payload).encode()
    return str(len(data)).encode() + b"\n" + data


# --- the tagged value encoding ---------------------------------------------------------------


class Iterated:
    """What a builtin iterator (generator, map, ...) yielded: equal to nothing but itself,
    as the iterator would be, yet `list`, `sorted`, `in` and the like read its items."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items

    def __repr__(self) -> str:
        return f"<iterator over {list(self.items)!r}>"

    def __iter__(self) -> Any:
        return iter(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.items


_SEQUENCE_TAGS = {"l": list, "t": tuple, "g": Iterated}


def encode_value(value: Any) -> Any:
    """A laundered value (exact builtin types) as JSON data; see `decode_value`."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return ["i", hex(value)]
    if kind is float:
        return ["f", float.hex(value)]
    if kind is complex:
        return ["c", float.hex(value.real), float.hex(value.imag)]
    if kind is bytes:
        return ["y", value.hex()]
    if kind is decimal.Decimal:
        return ["D", str(value)]
    if kind is range:
        return ["r", hex(value.start), hex(value.stop), hex(value.step)]
    return _encode_container(value, kind)


def _encode_container(value: Any, kind: type) -> Any:
    if kind is list:
        return ["l", [encode_value(v) for v in value]]
    if kind is tuple:
        return ["t", [encode_value(v) for v in value]]
    if kind is Iterated:
        return ["g", [encode_value(v) for v in value.items]]
    if kind is dict:
        return ["d", [[encode_value(k), encode_value(v)] for k, v in value.items()]]
    if kind is set:
        return ["s", [encode_value(v) for v in value]]
    if kind is frozenset:
        return ["fs", [encode_value(v) for v in value]]
    raise TypeError(f"cannot encode a {kind.__name__}")


class OverBudget(ValueError):
    """A well-formed value the host will not hold: the program sized it past a budget."""


class _Budget:
    """Items a value may still decode into: its size on the host, whatever its wire form."""

    __slots__ = ("items",)

    def __init__(self, items: int) -> None:
        self.items = items

    def spend(self, items: int) -> None:
        self.items -= items
        if self.items < 0:
            raise OverBudget("the value exceeds the host's size budget")


def decode_value(data: Any, depth: int = 0, budget: _Budget | None = None) -> Any:
    """The value `encode_value` wrote; anything malformed or over budget raises ValueError.

    Runs on the host on data the program may have written itself, so every shape is checked,
    nesting, items and every size the program picks are bounded, and hashing is guarded
    against collision attacks.
    """
    budget = budget if budget is not None else _Budget(MAX_VALUE_ITEMS)
    if depth > MAX_VALUE_DEPTH:
        raise ValueError("value nests too deep")
    budget.spend(1)
    kind = type(data)
    if data is None or kind is bool or kind is str:
        return data
    if kind is not list or not data or type(data[0]) is not str:
        raise ValueError("malformed value")
    tag, rest = data[0], data[1:]
    if tag in _SEQUENCE_TAGS or tag in ("d", "s", "fs"):
        return _decode_container(tag, rest, depth, budget)
    return _decode_scalar(tag, rest, budget)


def _decode_scalar(tag: str, rest: list[Any], budget: _Budget) -> Any:
    if not rest or not all(type(part) is str for part in rest):
        raise ValueError("malformed scalar")
    decoder = _SCALAR_DECODERS.get((tag, len(rest)))
    if decoder is None:
        raise ValueError(f"unknown value tag {tag[:20]!r}")
    try:
        return decoder(rest, budget)
    except OverBudget:
        raise
    except OverflowError as exc:  # len() of a range past sys.maxsize
        raise OverBudget(f"a value beyond the host's budget: {exc}") from None
    except (ValueError, decimal.InvalidOperation) as exc:
        raise ValueError(f"malformed scalar: {exc}") from None


def _bounded_int(digits: str) -> int:
    # Hex digits, four bits each: checked before the (linear) conversion.
    if len(digits) > MAX_INT_BITS // 4 + 4:
        raise OverBudget("an integer beyond the host's digit budget")
    return int(digits, 16)


def _bounded_decimal(text: str) -> decimal.Decimal:
    """A Decimal whose digits and exponent are bounded: `int(d)` or `round(d, n)` of one with
    an exponent of 10**9 would build a number of a billion digits."""
    if len(text) > 2 * MAX_DECIMAL_DIGITS:
        raise OverBudget("a Decimal beyond the host's digit budget")
    value = decimal.Decimal(text)
    if value.is_finite():
        sign, digits, exponent = value.as_tuple()
        if len(digits) > MAX_DECIMAL_DIGITS or abs(int(exponent)) > MAX_DECIMAL_EXPONENT:
            raise OverBudget("a Decimal beyond the host's digit budget")
    return value


def _bounded_range(parts: list[str], budget: _Budget) -> range:
    """A range no longer than the host would read as a list: `sum`, `sorted` or `list` of
    range(10**18) would cost what the program chose."""
    value = range(*(_bounded_int(part) for part in parts))
    if len(value) > MAX_RANGE_ITEMS:
        raise OverBudget("a range beyond the host's length budget")
    budget.spend(len(value))
    return value


_SCALAR_DECODERS: dict[tuple[str, int], Callable[[list[str], _Budget], Any]] = {
    ("i", 1): lambda parts, _: _bounded_int(parts[0]),
    ("f", 1): lambda parts, _: float.fromhex(parts[0]),
    ("c", 2): lambda parts, _: complex(float.fromhex(parts[0]), float.fromhex(parts[1])),
    ("y", 1): lambda parts, _: bytes.fromhex(parts[0]),
    ("D", 1): lambda parts, _: _bounded_decimal(parts[0]),
    ("r", 3): _bounded_range,
}


def _decode_container(tag: str, rest: list[Any], depth: int, budget: _Budget) -> Any:
    if len(rest) != 1 or type(rest[0]) is not list:
        raise ValueError("malformed container")
    if tag == "d":
        pairs = [_decode_pair(item, depth, budget) for item in rest[0]]
        check_hashes([key for key, _ in pairs])
        return dict(pairs)
    items = [decode_value(item, depth + 1, budget) for item in rest[0]]
    if tag in _SEQUENCE_TAGS:
        sequence = _SEQUENCE_TAGS[tag]
        return sequence(tuple(items)) if sequence is Iterated else sequence(items)
    check_hashes(items)
    return set(items) if tag == "s" else frozenset(items)


def _decode_pair(item: Any, depth: int, budget: _Budget) -> tuple[Any, Any]:
    if type(item) is not list or len(item) != 2:
        raise ValueError("malformed dict item")
    return decode_value(item[0], depth + 1, budget), decode_value(item[1], depth + 1, budget)


def check_hashes(items: list[Any]) -> None:
    """Refuse elements whose hashes collide so often that building a set would be quadratic."""
    try:
        counts = collections.Counter(hash(item) for item in items)
    except TypeError as exc:
        raise ValueError(f"unhashable element: {exc}") from None
    if counts and max(counts.values()) > MAX_HASH_REPEATS:
        raise ValueError("set or dict elements share one hash (a collision attack)")
