"""Hand-made bad input, one row per class, on SQLite and Postgres: each answers its
documented 4xx in the one error shape, naming the field, and the app stays healthy after.

Classes: lone surrogates (escaped and as raw bytes), NaN/Infinity and overflowing floats,
NUL characters, non-UTF-8 and too-deep bodies, wrong JSON types (booleans as numbers, strings
as integers), out-of-range integers, cursors that decode to the wrong element types, event
ids past what the database stores, malformed ids and headers.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from tests.integration.service.api_hostile.conftest import EXAMPLE, api, solve_body

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Bad:
    """One hostile request and the answer it must get."""

    name: str
    method: str
    path: str  # `{job}` is replaced by a real job's id
    status: int
    field: str | None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)


def raw_body(text: str) -> bytes:
    """A body as its exact bytes (so escapes like `\\ud800` reach the server unchanged)."""
    return text.encode()


def body_with(fragment: str, at: str = '"metadata": {"x": %s}') -> bytes:
    """The example request with `fragment` spliced in raw at `at`."""
    base = json.dumps(solve_body())[:-1]
    return (base + ", " + (at % fragment) + "}").encode()


def statement(value: str) -> bytes:
    """The example request whose statement is the raw JSON string literal `value`."""
    problem = json.dumps(EXAMPLE)
    replaced = problem.replace(json.dumps(EXAMPLE["statement"]), value, 1)
    return ('{"problem": ' + replaced + ', "budget": {"max_attempts": 8}}').encode()


def raw_in_statement(raw: bytes) -> bytes:
    """The example request whose statement is exactly these bytes (maybe not UTF-8)."""
    return statement('"MARK"').replace(b"MARK", raw)


def cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def solve(name: str, content: bytes, field_name: str | None, status: int = 422) -> Bad:
    return Bad(name, "POST", "/solve", status, field_name, content=content, headers=JSON)


def typed(name: str, **changes: Any) -> Bad:
    (key,) = changes
    value = changes[key]
    nested = key.split(".")
    request = solve_body()
    target = request
    for part in nested[:-1]:
        target = target.setdefault(part, {})
    target[nested[-1]] = value
    return solve(name, json.dumps(request).encode(), key)


BODY = [
    solve("escaped lone surrogate", statement('"\\ud800"'), "body"),
    solve("escaped lone low surrogate", statement('"x\\udfff"'), "body"),
    solve("raw surrogate bytes ED A0 80", raw_in_statement(b"a\xed\xa0\x80"), "body"),
    solve("NaN", body_with("NaN"), "body"),
    solve("Infinity", body_with("Infinity"), "body"),
    solve("-Infinity", body_with("-Infinity"), "body"),
    solve("1e400 overflows to infinity", body_with("1e400"), "metadata.x"),
    solve(
        "-1e400 in a typed float",
        body_with("-1e400", '"budget": {"max_seconds": %s}'),
        "budget.max_seconds",
    ),
    solve("NUL in a string", statement('"a\\u0000b"'), "problem.statement"),
    solve("NUL in a key", body_with('{"a\\u0000": 1}'), "metadata.x.a\x00"),
    solve("a 1001-digit integer", body_with("9" * 1001), "metadata.x"),
    solve("latin-1 byte, not UTF-8", raw_in_statement(b"caf\xe9"), "body"),
    solve("UTF-16 body", json.dumps(solve_body()).encode("utf-16"), "body"),
    solve("nested 300 deep", body_with("[" * 300 + "]" * 300), "body"),
    solve("not JSON", b"{not json", "body"),
    solve("empty body", b"", "body"),
    solve("a JSON array", b"[]", "body"),
    solve("a JSON string", b'"solve"', "body"),
    typed("bool as float", **{"sampling.temperature": True}),
    typed("bool as int", **{"budget.max_attempts": True}),
    typed("string as int", **{"budget.max_attempts": "8"}),
    typed("float as int", **{"seed": 1.5}),
    typed("seed past 2^31", seed=2**31),
    typed("seed 2^63", seed=2**63),
    typed("negative attempts", **{"budget.max_attempts": -1}),
    typed("attempts 10^30", **{"budget.max_attempts": 10**30}),
    typed("tokens 2^63", **{"sampling.max_new_tokens": 2**63}),
    typed("null strategy", strategy=None),
    typed("unknown field", surprise=1),
    solve(
        "tests without kind",
        json.dumps(
            solve_body(
                problem={
                    **EXAMPLE,
                    "tests": {k: v for k, v in EXAMPLE["tests"].items() if k != "kind"},
                }
            )
        ).encode(),
        "problem.tests",
    ),
]

ATTEMPT_CURSORS = [
    b'["x"]',
    b"[null]",
    b"[[1]]",
    b"[1e400]",
    b"[9223372036854775808]",
    b"[true]",
    b"[1.5]",
    b"[-1]",
    b"[]",
    b"[1, 2]",
    b"{}",
    b"1",
    b"not json",
    b'["\\ud800"]',
]
JOB_CURSORS = [
    b'[1, "id"]',
    b'["not a date", "id"]',
    b'["2020-01-01T00:00:00", "id"]',
    b'["2020-01-01T00:00:00+00:00", "a\\u0000"]',
    b'["2020-01-01T00:00:00+00:00", 5]',
    b'["2020-01-01T00:00:00+00:00", null]',
    b'["2020-01-01T00:00:00+00:00"]',
    b'["2020-01-01T00:00:00+00:00", "' + b"x" * 65 + b'"]',
]
QUERY = [
    *[
        Bad(
            f"attempts cursor {raw!r}",
            "GET",
            "/jobs/{job}/attempts",
            422,
            "cursor",
            params={"cursor": cursor(raw)},
        )
        for raw in ATTEMPT_CURSORS
    ],
    *[
        Bad(f"jobs cursor {raw!r}", "GET", "/jobs", 422, "cursor", params={"cursor": cursor(raw)})
        for raw in JOB_CURSORS
    ],
    Bad("cursor not base64", "GET", "/jobs", 422, "cursor", params={"cursor": "%%"}),
    Bad("cursor with NUL", "GET", "/jobs", 422, "cursor", params={"cursor": "a\x00"}),
    *[
        Bad(f"limit {value}", "GET", "/jobs", 422, "limit", params={"limit": value})
        for value in ["0", "201", "abc", "1e400", "²", "2147483648", "true"]
    ],
    *[
        Bad(f"after {value}", "GET", "/jobs/{job}/events", 422, "after", params={"after": value})
        for value in ["-1", "2147483648", "9" * 30, "²", "1.5", "x"]
    ],
    Bad(
        "access_token with NUL",
        "GET",
        "/jobs/{job}/events",
        422,
        "access_token",
        params={"access_token": "rsk_\x00"},
    ),
]
HEADERS = [
    *[
        Bad(
            f"Last-Event-ID {value!r}",
            "GET",
            "/jobs/{job}/events",
            422,
            "Last-Event-ID",
            headers={"Last-Event-ID": value},
        )
        for value in ["²".encode(), b"-1", b"2147483648", b"9" * 30, b"1.5", b"soon", b"\xd9\xa3"]
    ],
    Bad(
        "Idempotency-Key with NUL",
        "POST",
        "/solve",
        422,
        "Idempotency-Key",
        content=json.dumps(solve_body()).encode(),
        headers={**JSON, "Idempotency-Key": b"k\x00"},
    ),
    Bad(
        "Idempotency-Key not ASCII",
        "POST",
        "/solve",
        422,
        "Idempotency-Key",
        content=json.dumps(solve_body()).encode(),
        headers={**JSON, "Idempotency-Key": "clé".encode()},
    ),
    Bad(
        "Idempotency-Key too long",
        "POST",
        "/solve",
        422,
        "Idempotency-Key",
        content=json.dumps(solve_body()).encode(),
        headers={**JSON, "Idempotency-Key": "k" * 201},
    ),
    Bad(
        "Authorization too long",
        "GET",
        "/jobs",
        422,
        "authorization",
        headers={"Authorization": "Bearer " + "k" * 1000},
    ),
    Bad(
        "Authorization with NUL (no such key)",
        "GET",
        "/jobs",
        401,
        "Authorization",
        headers={"Authorization": b"Bearer rsk_\x00"},
    ),
]
PATHS = [
    *[
        Bad(f"job id {label}", method, path.replace("{job}", job_id), 422, "job_id")
        for label, job_id in [
            ("with NUL", "%00"),
            ("with NUL inside", "abc%00def"),
            ("surrogate bytes", "%ED%A0%80"),
            ("65 chars", "x" * 65),
            ("with a space", "a%20b"),
            ("non-ASCII", "%C3%BC"),
        ]
        for method, path in [
            ("GET", "/jobs/{job}"),
            ("GET", "/jobs/{job}/attempts"),
            ("GET", "/jobs/{job}/events"),
            ("POST", "/jobs/{job}/cancel"),
            ("GET", "/jobs/{job}/adapter"),
        ]
    ],
    Bad("unknown job id", "GET", "/jobs/no-such-job", 404, None),
]
TABLE = BODY + QUERY + HEADERS + PATHS


@pytest.fixture(scope="module")
def client_and_job(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=database_url)
    with api(settings) as client:
        created = client.post("/solve", json=solve_body())
        assert created.status_code == 202, created.text
        yield client, created.json()["id"]


@pytest.mark.parametrize("bad", TABLE, ids=[bad.name for bad in TABLE])
def test_a_bad_input_gets_its_4xx_naming_the_field(
    bad: Bad, client_and_job: tuple[TestClient, str]
) -> None:
    client, job_id = client_and_job
    answer = client.request(
        bad.method,
        bad.path.replace("{job}", job_id),
        content=bad.content,
        params=bad.params,
        headers=bad.headers,
    )
    assert answer.status_code == bad.status, answer.text
    error = answer.json()["error"]
    assert error["field"] == bad.field, error
    assert error["code"] and error["message"]
    assert client.get(f"/jobs/{job_id}").status_code == 200  # and the app is still well


def test_a_cancelled_job_cannot_be_cancelled_again(
    client_and_job: tuple[TestClient, str],
) -> None:
    client, _ = client_and_job
    job_id = client.post("/solve", json=solve_body()).json()["id"]
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 202
    again = client.post(f"/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_good_input_at_the_bounds_is_accepted(client_and_job: tuple[TestClient, str]) -> None:
    client, _ = client_and_job
    astral = solve_body(metadata={"emoji": "\U0001f600", "big": 2**200, "neg0": -0.0})
    created = client.post("/solve", json=astral)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    read = client.get(f"/jobs/{job_id}").json()
    assert read["metadata"] == {"emoji": "\U0001f600", "big": 2**200, "neg0": -0.0}
    client.post(f"/jobs/{job_id}/cancel")
    with client.stream("GET", f"/jobs/{job_id}/events", headers={"Last-Event-ID": "1"}) as stream:
        events = [line for line in stream.iter_lines() if line.startswith("event:")]
    assert events == ["event: job.cancelled"]


def test_a_stream_cannot_resume_past_the_jobs_last_event(
    client_and_job: tuple[TestClient, str],
) -> None:
    client, queued = client_and_job
    for where in [{"params": {"after": str(2**31 - 1)}}, {"headers": {"Last-Event-ID": "2"}}]:
        past = client.get(f"/jobs/{queued}/events", **where)  # seq 1 is its only event
        assert past.status_code == 422, past.text
        assert past.json()["error"]["field"] in ("after", "Last-Event-ID")
    ended = client.post("/solve", json=solve_body()).json()["id"]
    client.post(f"/jobs/{ended}/cancel")
    done = client.get(f"/jobs/{ended}/events", headers={"Last-Event-ID": "2"})
    assert done.status_code == 204  # EventSource stops reconnecting on 204
