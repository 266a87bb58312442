"""The three operations under load, each a fixed number of requests with a time limit.

- submits: `count` concurrent `POST /solve`, latency of each answer;
- streams: `count` SSE clients opened at once over the submitted jobs, latency from the
  request to its first event (`job.queued`), all held open until the last one has it;
- reads: `count` `GET /jobs/{id}` with `concurrency` in flight, latency of each, and the rate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOLVE = {
    "problem": json.loads((EXAMPLES / "sum_evens.json").read_text()),
    "budget": {"max_attempts": 8},
}
Work = Callable[[], Awaitable[tuple[float, str | None]]]


@dataclass
class Outcome:
    """Latencies (seconds) of the requests that succeeded, and what went wrong with the rest."""

    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    ids: list[str] = field(default_factory=list)


async def _run(outcome: Outcome, work: Work) -> None:
    try:
        latency_s, produced = await work()
    except (httpx.HTTPError, AssertionError, ValueError, KeyError) as exc:
        outcome.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        return
    outcome.latencies_s.append(latency_s)
    if produced is not None:
        outcome.ids.append(produced)


async def _gather(works: list[Work], timeout_s: float) -> Outcome:
    outcome = Outcome()
    started = time.perf_counter()
    tasks = [asyncio.create_task(_run(outcome, work)) for work in works]
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    outcome.errors.extend(["timed out"] * len(pending))
    outcome.wall_s = time.perf_counter() - started
    return outcome


def client(base_url: str, connections: int) -> httpx.AsyncClient:
    """A client with room for `connections` at once (loopback only)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(60.0, connect=30.0, pool=60.0)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)


async def submits(base_url: str, count: int, timeout_s: float) -> Outcome:
    """`count` submits at once; the outcome's ids are the jobs made."""
    async with client(base_url, count) as http:

        async def one() -> tuple[float, str | None]:
            started = time.perf_counter()
            answer = await http.post("/solve", json=SOLVE)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 202, f"{answer.status_code} {answer.text[:100]}"
            return elapsed, str(answer.json()["id"])

        return await _gather([one] * count, timeout_s)


async def streams(
    base_url: str,
    job_ids: list[str],
    count: int,
    timeout_s: float,
    at_peak: Callable[[], None] = lambda: None,
) -> Outcome:
    """`count` SSE clients at once, spread over `job_ids`; latency to each one's first event.
    `at_peak` runs once, while every stream is open and has its first event."""
    everyone = asyncio.Event()
    arrived = [0]
    async with client(base_url, count) as http:

        def for_job(job_id: str) -> Work:
            async def one() -> tuple[float, str | None]:
                started = time.perf_counter()
                async with http.stream("GET", f"/jobs/{job_id}/events") as answer:
                    assert answer.status_code == 200, str(answer.status_code)
                    async for line in answer.aiter_lines():
                        if line.startswith("event:"):
                            break
                    elapsed = time.perf_counter() - started
                    arrived[0] += 1
                    if arrived[0] == count:
                        at_peak()
                        everyone.set()
                    await everyone.wait()  # hold the stream until every client has its event
                return elapsed, None

            return one

        return await _gather([for_job(job_ids[i % len(job_ids)]) for i in range(count)], timeout_s)


async def reads(
    base_url: str, job_ids: list[str], count: int, concurrency: int, timeout_s: float
) -> Outcome:
    """`count` status reads with `concurrency` in flight; latency of each request alone."""
    gate = asyncio.Semaphore(concurrency)
    async with client(base_url, concurrency) as http:

        def for_job(job_id: str) -> Work:
            async def one() -> tuple[float, str | None]:
                async with gate:
                    started = time.perf_counter()
                    answer = await http.get(f"/jobs/{job_id}")
                    elapsed = time.perf_counter() - started
                assert answer.status_code == 200, str(answer.status_code)
                return elapsed, None

            return one

        return await _gather([for_job(job_ids[i % len(job_ids)]) for i in range(count)], timeout_s)
