"""Service processes for end-to-end tests: `retrospect serve`, `api` and `worker` as real
subprocesses on loopback, with their logs kept for failure reports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.solver.events import TERMINAL_TYPES
from tests.conftest import TEST_MODEL
from tests.integration.sandbox.conftest import docker_ready

REPO = Path(__file__).resolve().parents[3]
MODELS_DIR = REPO / "data" / "models"  # the converted default model, shared by all tests
EXAMPLE = REPO / "examples" / "sum_evens.json"
READY_TIMEOUT_S = 240.0
JOB_TIMEOUT_S = 400.0


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service process: CPU, a private data dir, the shared model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROSPECT_")}
    env.update(
        RETROSPECT_DATA_DIR=str(data_dir),
        RETROSPECT_MODELS_DIR=str(MODELS_DIR),
        RETROSPECT_ENGINE__MODEL=TEST_MODEL,
        RETROSPECT_ENGINE__DEVICE="cpu",
        RETROSPECT_WORKER__HEARTBEAT_S="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@dataclass
class Service:
    """A running `retrospect` subprocess."""

    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it will not go."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the rest of the system can tell."""
        self.process.kill()
        self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        """The end of its log, for assertion messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start(args: list[str], env: dict[str, str], log: Path) -> Service:
    """Start `retrospect ARGS` with its output in `log`."""
    with open(log, "wb") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return Service(process, log)


@contextmanager
def embedded_server(data_dir: Path, **settings: str) -> Iterator[tuple[str, Service]]:
    """`retrospect serve` on a free port with a private data dir; its base URL and process.
    Skips (a failure under RETROSPECT_REQUIRE_ALL) when Docker is not usable."""
    reason = docker_ready()
    if reason:
        pytest.skip(reason)
    port = free_port()
    env = service_env(data_dir, **settings)
    service = start(["serve", "--port", str(port)], env, data_dir / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, service)
        yield base, service
    finally:
        service.stop()


def wait_ready(base_url: str, service: Service, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `/readyz` until 200; fail with the log if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"the service exited early:\n{service.tail()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the service was not ready in {timeout_s} s:\n{service.tail()}")


def sse_events(
    client: httpx.Client,
    job_id: str,
    *,
    after: int = 0,
    stop_after: int | None = None,
    stop_at: str | None = None,
) -> list[dict[str, Any]]:
    """The job's events from the SSE stream after `after`, until its terminal event (or
    until `stop_after` events or an event of type `stop_at`: the client hangs up)."""
    events: list[dict[str, Any]] = []
    headers = {"Last-Event-ID": str(after)}
    timeout = httpx.Timeout(30.0, read=JOB_TIMEOUT_S)
    with client.stream("GET", f"/jobs/{job_id}/events", headers=headers, timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[len("data: ") :]))
            kind = events[-1]["type"]
            if kind in TERMINAL_TYPES or kind == stop_at or len(events) == stop_after:
                break
    return events


def problem() -> dict[str, Any]:
    """The example problem as a request body's `problem`."""
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return loaded


# With 64 new tokens and rounds of 2, this seed solves the example on the default model at
# attempt 4, in round 3, after two SDPO steps (measured; samples are seeded per row, so the
# jobs beside it on a worker change nothing).
SOLVING_SEED = 1


def solve_body(**budget: Any) -> dict[str, Any]:
    """A request for the example with a small budget; `SOLVING_SEED` and 64 tokens solve it in
    a few rounds on the default model, which keeps these tests short."""
    limits = {"max_attempts": 8, "attempts_per_round": 2, **budget}
    return {
        "problem": problem(),
        "budget": limits,
        "sampling": {"max_new_tokens": 64},
        "seed": SOLVING_SEED,
    }


def unpassable_body(**budget: Any) -> dict[str, Any]:
    """`solve_body` for the example with one hidden test that contradicts a public one (the
    same input, another answer): no program passes both, so a job runs its whole budget and
    ends `exhausted`. A test that must catch a job mid-job thus does, whatever the sampler
    draws; judging, feedback and learning still run on real programs."""
    body = solve_body(**budget)
    tests = body["problem"]["tests"]
    tests["public"] = [*tests["public"], {"args": [[2]], "expected": 2}]
    tests["hidden"] = [*tests["hidden"], {"args": [[2]], "expected": 3}]
    return body


def assert_contiguous(events: list[dict[str, Any]]) -> None:
    """Seqs run 1, 2, 3, ... with the terminal event last and only there."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events
    assert events[-1]["type"] in TERMINAL_TYPES
    assert not any(e["type"] in TERMINAL_TYPES for e in events[:-1])
