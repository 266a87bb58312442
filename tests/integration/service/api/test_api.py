"""The HTTP API through the real app and a real database (SQLite and Postgres), no worker:
submitting, reading, paging, idempotency, keys, limits, cancel, adapter download, SSE and
WebSocket replay, health and metrics, and the OpenAPI schema with every documented status
code reached by some test of this module (the last test checks that)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from safetensors.torch import save_file
from starlette.websockets import WebSocketDisconnect

from service.api.app import create_app
from service.api.ui import events_module
from service.config import LimitSettings, Settings
from service.engine.types import ADAPTER_FILE
from service.solver.budget import BudgetLeft
from service.solver.events import JobExhausted, JobStarted, RoundStarted
from service.solver.request import SolveRequest
from service.solver.spec import SolverSettings, SolveSpec
from service.store import create_api_key, record_adapter
from service.store.db import create_engine, make_sessionmaker
from service.store.events import append_event
from service.store.jobs import finish_with, get_job, job_request
from service.store.status import JobStatus, utcnow
from tests.integration.service.databases import PG_URL

T = TypeVar("T")
EXAMPLE = json.loads((Path(__file__).parents[4] / "examples" / "sum_evens.json").read_text())
REACHED: set[tuple[str, str, str]] = set()  # (method, route, status) answered in this module
LEFT = BudgetLeft(attempts=8, seconds=3600.0)


def body(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"problem": EXAMPLE, "budget": {"max_attempts": 8}}
    request.update(changes)
    return request


@contextmanager
def api(settings: Settings, **kwargs: Any) -> Iterator[TestClient]:
    """A client of a fresh app; what it answered joins REACHED."""
    app = create_app(settings, **kwargs)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        registry = app.state.retrospect.metrics.registry
    for metric in registry.collect():
        if metric.name == "retrospect_http_requests":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    REACHED.add((labels["method"], labels["route"], labels["status"]))


def in_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one committed transaction on the settings' database."""

    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def add_events(settings: Settings, job_id: str, *, finish: bool) -> None:
    async def work(session: Any) -> None:
        now = utcnow()
        job = await get_job(session, job_id)
        job.status = JobStatus.RUNNING
        await append_event(
            session, job_id, JobStarted(attempts_used=0, budget_left=LEFT, strategy="sdpo"), now=now
        )
        await append_event(
            session,
            job_id,
            RoundStarted(attempts_used=0, budget_left=LEFT, round=0, attempts=8),
            now=now,
        )
        if finish:
            await finish_with(
                session, job, JobExhausted(attempts_used=8, budget_left=LEFT), now=now
            )

    in_store(settings, work)


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_submit_read_list_and_page(settings: Settings) -> None:
    with api(settings) as client:
        created = client.post("/solve", json=body(metadata={"who": "test"}))
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert created.headers["location"] == f"/jobs/{job_id}"
        view = client.get(f"/jobs/{job_id}").json()
        assert view["status"] == "queued" and view["metadata"] == {"who": "test"}
        assert view["budget"]["max_attempts"] == 8 and view["best_attempt"] is None
        more = [client.post("/solve", json=body()).json()["id"] for _ in range(2)]
        first = client.get("/jobs", params={"limit": 2}).json()
        second = client.get("/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        listed = [job["id"] for job in first["data"] + second["data"]]
        assert {job_id, *more} <= set(listed) and len(listed) == len(set(listed))
        assert client.get(f"/jobs/{job_id}/attempts").json() == {"data": [], "next_cursor": None}
        assert error_of(client.get("/jobs", params={"cursor": "garbage!"}))["field"] == "cursor"
        bad_cursor = client.get(f"/jobs/{job_id}/attempts", params={"cursor": "%%"})
        assert bad_cursor.status_code == 422
        long_id = "x" * 65
        for method, path in [("GET", ""), ("GET", "/adapter"), ("POST", "/cancel")]:
            too_long = client.request(method, f"/jobs/{long_id}{path}")
            assert too_long.status_code == 422 and error_of(too_long)["field"] == "job_id"
        assert client.get("/jobs/no-such-job").status_code == 404


def test_an_idempotency_key_returns_the_same_job_and_refuses_another_body(
    settings: Settings,
) -> None:
    with api(settings) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = client.post("/solve", json=body(), headers=headers)
        again = client.post("/solve", json=body(), headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["id"] == again.json()["id"]
        other = client.post("/solve", json=body(seed=7), headers=headers)
        assert other.status_code == 422
        assert error_of(other)["field"] == "Idempotency-Key"


def test_keys_are_required_off_loopback_and_scope_every_job(settings: Settings) -> None:
    async def two_keys(session: Any) -> tuple[str, str]:
        _, alice = await create_api_key(session, "alice", now=utcnow())
        _, bob = await create_api_key(session, "bob", now=utcnow())
        return alice, bob

    alice, bob = in_store(settings, two_keys)
    as_alice = {"Authorization": f"Bearer {alice}"}
    as_bob = {"Authorization": f"Bearer {bob}"}
    with api(settings, bind_host="0.0.0.0") as client:
        assert error_of(client.post("/solve", json=body()))["field"] == "Authorization"
        job_id = client.post("/solve", json=body(), headers=as_alice).json()["id"]
        for method, path in [
            ("GET", "/jobs"),
            ("GET", f"/jobs/{job_id}"),
            ("GET", f"/jobs/{job_id}/attempts"),
            ("GET", f"/jobs/{job_id}/events"),
            ("GET", f"/jobs/{job_id}/adapter"),
            ("POST", f"/jobs/{job_id}/cancel"),
            ("GET", "/metrics"),
        ]:
            assert client.request(method, path).status_code == 401, path
            wrong_scheme = {"Authorization": f"Basic {alice}"}
            assert client.request(method, path, headers=wrong_scheme).status_code == 401
            if path not in ("/jobs", "/metrics"):
                assert client.request(method, path, headers=as_bob).status_code == 404, path
        assert (
            client.get("/jobs", headers={"Authorization": "Bearer rsk_forged"}).status_code == 401
        )
        assert client.get(f"/jobs/{job_id}", headers=as_alice).status_code == 200
        assert client.get("/jobs", headers=as_bob).json()["data"] == []
        for url, code in [
            (f"/jobs/{job_id}/ws", 4401),
            (f"/jobs/{job_id}/ws?access_token={bob}", 4404),
        ]:
            with client.websocket_connect(url) as ws:
                frame = ws.receive_json()  # accepted, then the error frame, then the close
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_text()
            assert frame["type"] == "error" and closed.value.code == code, frame


def test_limits_answer_413_and_422_naming_the_field(settings: Settings) -> None:
    limits = LimitSettings(
        max_body_bytes=64 * 1024, max_tests=10, max_statement_chars=500, max_attempts=100
    )
    with api(settings.model_copy(update={"limits": limits})) as client:
        huge = client.post(
            "/solve",
            content=b"{" + b" " * (70 * 1024) + b"}",
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413 and error_of(huge)["field"] == "body"

        def chunks() -> Iterator[bytes]:
            for _ in range(80):
                yield b" " * 1024

        streamed = client.post(
            "/solve", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        cases = [{"args": [[1]], "expected": 0}] * 11
        many = dict(EXAMPLE, tests=dict(EXAMPLE["tests"], public=cases))
        expectations = {
            "problem.tests": body(problem=many),
            "problem.statement": body(problem=dict(EXAMPLE, statement="x" * 501)),
            "budget.max_attempts": body(budget={"max_attempts": 101, "attempts_per_round": 8}),
            "budget.attempts_per_round": body(budget={"max_attempts": 4, "attempts_per_round": 8}),
            "strategy": body(strategy="guessing"),
            "surprise": body(surprise=1),
            "problem.tests.functional.entry_point": body(
                problem=dict(EXAMPLE, tests=dict(EXAMPLE["tests"], entry_point="1bad"))
            ),
        }
        for field, request in expectations.items():
            answer = client.post("/solve", json=request)
            assert answer.status_code == 422, (field, answer.text)
            assert error_of(answer)["field"] == field, answer.text
        malformed = client.post(
            "/solve", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 422 and error_of(malformed)["field"] == "body"


def test_every_override_is_checked_at_the_api_with_the_engines_bounds(settings: Settings) -> None:
    """A bad SDPO or sampling override is a 422 naming it, never a job that fails on its
    worker; the bounds are the worker's own settings' (`EngineSettings`)."""
    with api(settings) as client:
        expectations = {
            "sdpo.learning_rate": [
                body(sdpo={"learning_rate": 2.0}),
                body(sdpo={"learning_rate": 0}),
            ],
            "sdpo.teacher": [body(sdpo={"teacher": "oracle"})],
            "sdpo.teacher_ema_rate": [body(sdpo={"teacher_ema_rate": 1.5})],
            "sdpo.top_k": [body(sdpo={"top_k": 0}), body(sdpo={"top_k": 1001})],
            "sdpo.alpha": [body(sdpo={"alpha": -0.1})],
            "sdpo.clip_advantage": [body(sdpo={"clip_advantage": 0})],
            "sdpo.is_clip": [body(sdpo={"is_clip": -1.0})],
            "sdpo.lora_rank": [body(sdpo={"lora_rank": 8})],  # a worker's setting, not a job's
            "sampling.temperature": [body(sampling={"temperature": 0})],
            "sampling.max_new_tokens": [body(sampling={"max_new_tokens": 0})],
            "budget.max_rounds": [body(budget={"max_attempts": 8, "max_rounds": 0})],
        }
        for field, requests in expectations.items():
            for request in requests:
                answer = client.post("/solve", json=request)
                assert answer.status_code == 422, (field, answer.text)
                error = error_of(answer)
                assert error["field"] == field and error["code"] == "invalid_request", answer.text
                assert error["message"], answer.text


def test_the_store_hands_the_request_back_typed(settings: Settings) -> None:
    overrides = {"learning_rate": 5e-5, "teacher": "frozen", "top_k": 50}
    request = body(sdpo=overrides, sampling={"temperature": 0.7}, seed=3, strategy="multi_turn")
    with api(settings) as client:
        created = client.post("/solve", json=request)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

    async def work(session: Any) -> Any:
        return job_request(await get_job(session, job_id))

    stored = in_store(settings, work)
    assert stored == SolveRequest.model_validate(request)
    assert stored.sdpo.overrides() == overrides and stored.sampling.temperature == 0.7
    spec = SolveSpec(job_id, stored, SolverSettings(max_new_tokens=77))
    assert (spec.sampling.max_new_tokens, spec.sampling.temperature) == (77, 0.7)
    assert spec.sdpo.overrides() == overrides and spec.strategy == "multi_turn" and spec.seed == 3


def test_the_dashboard_reads_the_endings_from_the_api(settings: Settings) -> None:
    with api(settings) as client:
        module = client.get("/ui/js/events.js")
    assert module.status_code == 200 and module.headers["content-type"].startswith(
        "text/javascript"
    )
    assert module.text == events_module() and '"job.exhausted": "exhausted"' in module.text
    assert "default-src 'self'" in module.headers["content-security-policy"]


def test_the_active_job_limit_answers_429(settings: Settings) -> None:
    limits = LimitSettings(max_active_jobs_per_key=2)
    with api(settings.model_copy(update={"limits": limits})) as client:
        active = [
            job["id"]
            for job in client.get("/jobs").json()["data"]
            if job["status"] in ("queued", "running")
        ]
        for job_id in active:
            client.post(f"/jobs/{job_id}/cancel")
        first = client.post("/solve", json=body()).json()["id"]
        assert client.post("/solve", json=body()).status_code == 202
        refused = client.post("/solve", json=body())
        assert refused.status_code == 429 and error_of(refused)["code"] == "too_many_active_jobs"
        client.post(f"/jobs/{first}/cancel")
        assert client.post("/solve", json=body()).status_code == 202


def test_cancel_ends_a_queued_job_and_refuses_a_finished_one(settings: Settings) -> None:
    with api(settings) as client:
        queued = client.post("/solve", json=body()).json()["id"]
        cancelled = client.post(f"/jobs/{queued}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
        again = client.post(f"/jobs/{queued}/cancel")  # a cancelled job has ended: 409
        assert again.status_code == 409 and "cancelled" in error_of(again)["message"]
        with client.stream("GET", f"/jobs/{queued}/events") as stream:
            types = [
                line.split(": ", 1)[1] for line in stream.iter_lines() if line.startswith("event:")
            ]
        assert types == ["job.queued", "job.cancelled"]
        finished = client.post("/solve", json=body()).json()["id"]
        add_events(settings, finished, finish=True)
        refused = client.post(f"/jobs/{finished}/cancel")
        assert refused.status_code == 409 and "exhausted" in error_of(refused)["message"]
        running = client.post("/solve", json=body()).json()["id"]
        add_events(settings, running, finish=False)
        flagged = client.post(f"/jobs/{running}/cancel").json()
        assert flagged["status"] == "running" and flagged["cancel_requested"]


def test_sse_and_websocket_replay_after_the_last_event_id(settings: Settings) -> None:
    with api(settings) as client:
        job_id = client.post("/solve", json=body()).json()["id"]
        add_events(settings, job_id, finish=True)
        with client.stream(
            "GET", f"/jobs/{job_id}/events", headers={"Last-Event-ID": "2"}
        ) as stream:
            ids = [int(line[4:]) for line in stream.iter_lines() if line.startswith("id: ")]
        assert ids == [3, 4]
        with client.stream("GET", f"/jobs/{job_id}/events", params={"after": 3}) as stream:
            data = [
                json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")
            ]
        assert [(d["seq"], d["type"]) for d in data] == [(4, "job.exhausted")]
        assert data[0]["job_id"] == job_id and data[0]["budget_left"]["attempts"] == 8
        assert (
            client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "4"}).status_code == 204
        )
        bad = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "soon"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "Last-Event-ID"
        with client.websocket_connect(f"/jobs/{job_id}/ws?after=1") as ws:
            seen = [json.loads(ws.receive_text()) for _ in range(3)]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert [event["seq"] for event in seen] == [2, 3, 4] and closed.value.code == 1000


def test_a_websocket_cancels_a_queued_job_and_reports_bad_messages(settings: Settings) -> None:
    with api(settings) as client:
        job_id = client.post("/solve", json=body()).json()["id"]
        with client.websocket_connect(f"/jobs/{job_id}/ws") as ws:
            assert json.loads(ws.receive_text())["type"] == "job.queued"
            ws.send_text('{"type": "pause"}')
            error = json.loads(ws.receive_text())
            assert error["type"] == "error" and error["error"]["field"] == "type"
            ws.send_text('{"type": "cancel"}')
            assert json.loads(ws.receive_text())["type"] == "job.cancelled"
        assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"


def test_the_adapter_downloads_with_its_version_and_checksum(
    settings: Settings, tmp_path: Path
) -> None:
    with api(settings) as client:
        job_id = client.post("/solve", json=body()).json()["id"]
        assert client.get(f"/jobs/{job_id}/adapter").status_code == 404
        directory = tmp_path / "adapter-v1"
        directory.mkdir()
        save_file({"lora_A": torch.ones(2, 2)}, str(directory / ADAPTER_FILE))

        async def publish(session: Any) -> None:
            await record_adapter(
                session,
                job_id,
                version=1,
                name="n-v1",
                int_id=1,
                path=str(directory),
                sha256="abc",
                now=utcnow(),
            )

        in_store(settings, publish)
        answer = client.get(f"/jobs/{job_id}/adapter")
        assert answer.status_code == 200
        assert answer.content == (directory / ADAPTER_FILE).read_bytes()
        assert (
            answer.headers["x-adapter-version"] == "1"
            and answer.headers["x-adapter-sha256"] == "abc"
        )
        assert client.get(f"/jobs/{job_id}").json()["adapter_version"] == 1
        whole = (directory / ADAPTER_FILE).read_bytes()
        ranged = client.get(f"/jobs/{job_id}/adapter", headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206 and ranged.content == whole[:10]
        for invalid in ("bytes=5-1", "bytes=abc", "pages=1-2", "bytes"):
            ignored = client.get(f"/jobs/{job_id}/adapter", headers={"Range": invalid})
            assert ignored.status_code == 200 and ignored.content == whole, invalid
        past = client.get(f"/jobs/{job_id}/adapter", headers={"Range": f"bytes={len(whole)}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(whole)}"
        assert past.json()["error"] == {
            "code": "range_not_satisfiable",
            "message": f"Range: the file has {len(whole)} bytes",
            "field": "Range",
        }


def test_health_readiness_and_metrics(settings: Settings) -> None:
    with api(settings) as client:
        assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": True}
        client.post("/solve", json=body())
        text = client.get("/metrics").text
        assert 'retrospect_jobs{status="queued"}' in text
        assert "retrospect_http_requests_total" in text
        too_long = client.get("/metrics", headers={"Authorization": "Bearer " + "k" * 1000})
        assert too_long.status_code == 422 and error_of(too_long)["field"] == "authorization"
    missing = PG_URL.rsplit("/", 1)[0] + "/retrospect_no_such_database"
    with api(Settings(database_url=missing)) as client:
        down = client.get("/readyz")
        assert down.status_code == 503 and down.json()["checks"]["database"] is False


def test_a_running_job_names_its_worker_in_views_lists_and_metrics(settings: Settings) -> None:
    with api(settings) as client:
        held = client.post("/solve", json=body()).json()["id"]
        queued = client.post("/solve", json=body()).json()["id"]

        async def hold(session: Any) -> None:
            job = await get_job(session, held)
            job.status, job.lease_owner = JobStatus.RUNNING, "gpu-host-7-1234-ab12cd"

        in_store(settings, hold)
        assert client.get(f"/jobs/{held}").json()["worker"] == "gpu-host-7-1234-ab12cd"
        assert client.get(f"/jobs/{queued}").json()["worker"] is None
        listed = {job["id"]: job["worker"] for job in client.get("/jobs").json()["data"]}
        assert listed[held] == "gpu-host-7-1234-ab12cd" and listed[queued] is None
        text = client.get("/metrics").text
        assert 'retrospect_jobs_held{worker="gpu-host-7-1234-ab12cd"} 1.0' in text


def test_the_openapi_schema_is_valid(settings: Settings) -> None:
    with api(settings) as client:
        schema = client.get("/openapi.json").json()
    validate(schema)
    assert {"/solve", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events"} <= set(schema["paths"])
    components = schema["components"]["schemas"]
    for tests in ("StdioTests", "FunctionalTests", "AssertTests"):
        assert "kind" in components[tests]["required"], components[tests]  # the discriminator


def test_every_documented_status_code_is_reached(settings: Settings) -> None:
    """Runs last in this module: every (method, path, status) in the schema was answered."""
    with api(settings) as client:
        schema = client.get("/openapi.json").json()
    documented = {
        (method.upper(), path, status)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        for status in operation["responses"]
    }
    assert documented - REACHED == set()
