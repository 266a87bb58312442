"""The deployed shape end to end: Postgres, Redis, `retrospect api` and `retrospect worker`
as separate processes. The API streams events that a worker in another process produces;
a worker killed with SIGKILL mid-job leaves a job that another worker finishes, and one
killed while it holds three jobs (`max_jobs=3`) leaves three that another worker finishes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.sandbox.conftest import docker_ready
from tests.integration.service.databases import REDIS_URL, fresh_postgres_database
from tests.integration.service.processes import (
    REPO,
    Service,
    assert_contiguous,
    free_port,
    service_env,
    solve_body,
    sse_events,
    start,
    unpassable_body,
    wait_ready,
)

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Deployment:
    base: str
    env: dict[str, str]
    data_dir: Path
    api: Service
    keys: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def worker(self, name: str, **settings: str) -> Service:
        env = {**self.env, **settings}
        return start(["worker"], env, self.data_dir / f"{name}.log")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    data_dir = tmp_path_factory.mktemp("deployed")
    with fresh_postgres_database() as database_url:
        env = service_env(
            data_dir,
            RETROSPECT_DATABASE_URL=database_url,
            RETROSPECT_REDIS_URL=REDIS_URL,
            RETROSPECT_REDIS_PREFIX=f"test-{uuid.uuid4().hex[:8]}:",
            RETROSPECT_REQUIRE_API_KEYS="true",
            RETROSPECT_WORKER__LEASE_S="5",
            # The API, the sandbox and other tests share this host's cores: torch's default
            # of one thread per core then spins against them (2 x 48 tokens measured 66-110 s
            # with 2 threads on a busy 2-core host, 9-11 s with 1).
            RETROSPECT_WORKER__TORCH_THREADS="1",
        )
        assert "migrated" in cli(env, "migrate")  # an empty Postgres, through the CLI
        keys = {who: cli(env, "keys", "create", who) for who in ("alice", "bob")}
        port = free_port()
        api = start(["api", "--port", str(port)], env, data_dir / "api.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, api)
            yield Deployment(base, env, data_dir, api, keys)
        finally:
            api.stop()


def test_a_separate_worker_solves_a_job_the_api_streams(deployment: Deployment) -> None:
    worker = deployment.worker("worker-solve")
    try:
        with deployment.client("alice") as alice:
            job_id = alice.post("/solve", json=solve_body()).json()["id"]
            events = sse_events(alice, job_id)
            job = alice.get(f"/jobs/{job_id}").json()
            adapter = alice.get(f"/jobs/{job_id}/adapter")
    finally:
        worker.stop()
    assert_contiguous(events)
    assert events[-1]["type"] == "job.succeeded", worker.tail()
    assert job["status"] == "succeeded" and job["solution"] == events[-1]["solution"]
    if job["adapter_version"] > 0:
        assert adapter.status_code == 200
        assert hashlib.sha256(adapter.content).hexdigest() == adapter.headers["x-adapter-sha256"]
    with deployment.client("bob") as bob, deployment.client(None) as nobody:
        assert bob.get(f"/jobs/{job_id}").status_code == 404
        assert bob.get(f"/jobs/{job_id}/events").status_code == 404
        assert nobody.get(f"/jobs/{job_id}").status_code == 401


def test_a_killed_workers_job_is_finished_by_another(deployment: Deployment) -> None:
    first = deployment.worker("worker-killed")
    try:
        with deployment.client("alice") as alice:
            # Unpassable, so round 0 never ends the job: the kill always comes mid-job, after
            # round 0's step and before round 1. Two rounds, few tokens: short.
            body = unpassable_body(max_attempts=4)
            body["sampling"]["max_new_tokens"] = 48
            job_id = alice.post("/solve", json=body).json()["id"]
            before = sse_events(alice, job_id, stop_at="adapter.published")
    finally:
        first.kill()
    second = deployment.worker("worker-second")
    try:
        with deployment.client("alice") as alice:
            after = sse_events(alice, job_id, after=before[-1]["seq"])
            job = alice.get(f"/jobs/{job_id}").json()
            attempts = alice.get(f"/jobs/{job_id}/attempts").json()["data"]
    finally:
        second.stop()
    assert before[-1]["type"] == "adapter.published", before  # killed mid-job, not after it
    events = before + after
    assert_contiguous(events)
    assert job["status"] in ("succeeded", "exhausted"), second.tail()
    started = [e for e in events if e["type"] == "job.started"]
    assert [e["resumed"] for e in started] == [False, True]
    indices = [a["index"] for a in attempts]
    assert indices == list(range(job["attempts_used"]))  # contiguous and unique
    finished = [e["index"] for e in events if e["type"] == "attempt.finished"]
    assert sorted(set(finished)) == indices


def test_a_killed_worker_holding_three_jobs_leaves_three_that_another_finishes(
    deployment: Deployment,
) -> None:
    three = {"RETROSPECT_WORKER__MAX_JOBS": "3"}
    # A problem no program passes: each job ends only when its 4 attempts are spent, so each
    # is still running when the first worker dies. Two rounds of 2, few tokens: short.
    body = unpassable_body(max_attempts=4, attempts_per_round=2)
    body["sampling"]["max_new_tokens"] = 48
    with deployment.client("alice") as alice:
        # Queued before the worker starts, so it claims all three in its first pass.
        ids = [alice.post("/solve", json=body).json()["id"] for _ in range(3)]
        first = deployment.worker("worker-three-killed", **three)
        try:
            # Each job's stream up to its first recorded attempt: all three run at once.
            before = {
                job_id: sse_events(alice, job_id, stop_at="attempt.finished") for job_id in ids
            }
        finally:
            first.kill()
    for events in before.values():
        assert events[-1]["type"] == "attempt.finished", (events, first.tail())
    second = deployment.worker("worker-three-second", **three)
    try:
        with deployment.client("alice") as alice:
            finished = {job_id: _finished(alice, job_id) for job_id in ids}
    finally:
        second.stop()
    for job_id, (events, job, indices) in finished.items():
        assert_contiguous(events)
        assert job["status"] == "exhausted", (job, second.tail())
        started = [e for e in events if e["type"] == "job.started"]
        assert [e["resumed"] for e in started] == [False, True], events
        assert indices == list(range(4)) and job["attempts_used"] == 4  # contiguous, unique
        finished_indices = [e["index"] for e in events if e["type"] == "attempt.finished"]
        assert finished_indices == indices  # each attempt recorded once, none lost
        assert events[: len(before[job_id])] == before[job_id]  # nothing recorded was redone


def _finished(
    client: httpx.Client, job_id: str
) -> tuple[list[dict[str, Any]], dict[str, Any], list[int]]:
    """A job's whole event stream once it has ended, its row and its attempts' indices."""
    events = sse_events(client, job_id)
    job = client.get(f"/jobs/{job_id}").json()
    attempts = client.get(f"/jobs/{job_id}/attempts").json()["data"]
    return events, job, [a["index"] for a in attempts]
