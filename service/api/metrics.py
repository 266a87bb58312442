"""Prometheus metrics (`GET /metrics`).

Request counts, latencies and open streams are this API process's own. Job and attempt
counts are read from the database at scrape time: by default only the caller's own (the
key's jobs, or the anonymous scope's on the loopback default), so a key learns nothing about
other keys' work; with `RETROSPECT_METRICS_FLEET=true` the fleet's, for an operator's
Prometheus. Each app has its own registry (tests build many apps). See docs/http-api.md.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.jobs.worker import Worker
from service.store.models import Attempt, Job
from service.store.status import JobStatus


class Metrics:
    """The app's process-wide collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "retrospect_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "retrospect_http_request_seconds",
            "HTTP request latency (streams count until their headers are sent)",
            ["method", "route"],
            registry=self.registry,
        )
        self.submitted = Counter(
            "retrospect_jobs_submitted", "jobs accepted by this API", registry=self.registry
        )
        self.client_disconnects = Counter(
            "retrospect_http_client_disconnects",
            "requests whose client went away before its body was read (no answer was sent)",
            registry=self.registry,
        )
        self.streams = Gauge(
            "retrospect_streams_open", "open SSE and WebSocket streams", registry=self.registry
        )

    def render(self) -> bytes:
        """The process's collectors in the text exposition format."""
        return generate_latest(self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request."""
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()


async def render_jobs(session: AsyncSession, owner: ColumnElement[bool] | None) -> bytes:
    """Job counts by status and the attempt count, of the jobs `owner` selects (all if None)."""
    registry = CollectorRegistry()
    scope = "fleet" if owner is None else "caller"
    jobs = Gauge("retrospect_jobs", f"jobs by status ({scope})", ["status"], registry=registry)
    attempts = Gauge("retrospect_attempts", f"judged attempts ({scope})", registry=registry)
    where = true() if owner is None else owner
    by_status = select(Job.status, func.count()).where(where).group_by(Job.status)
    counts = dict((await session.execute(by_status)).all())
    for status in JobStatus:
        jobs.labels(status=status.value).set(counts.get(status, 0))
    judged = select(func.count(Attempt.index)).join(Job, Job.id == Attempt.job_id).where(where)
    attempts.set(int((await session.scalar(judged)) or 0))
    held = Gauge(
        "retrospect_jobs_held", f"running jobs by the worker holding them ({scope})", ["worker"],
        registry=registry,
    )  # fmt: skip
    running = where & (Job.status == JobStatus.RUNNING) & Job.lease_owner.is_not(None)
    by_worker = select(Job.lease_owner, func.count()).where(running).group_by(Job.lease_owner)
    for worker, count in (await session.execute(by_worker)).all():
        held.labels(worker=worker).set(count)
    return generate_latest(registry)


def render_worker(worker: Worker) -> bytes:
    """The in-process worker's own figures: jobs it holds and its sampling batches."""
    registry = CollectorRegistry()
    Gauge("retrospect_worker_jobs_held", "jobs this process's worker holds", registry=registry).set(
        len(worker.held_job_ids())
    )
    stats = worker.sampling_stats()
    if stats is not None:
        Gauge(
            "retrospect_sampling_batch_rows",
            "sequences in the last sampling batch of held jobs",
            registry=registry,
        ).set(stats.last_rows)
        Gauge(
            "retrospect_sampling_batch_jobs", "jobs in the last sampling batch", registry=registry
        ).set(stats.last_requests)
        Gauge(
            "retrospect_sampling_batches", "sampling batches run for held jobs", registry=registry
        ).set(stats.batches)
    return generate_latest(registry)


class RequestMetrics:
    """ASGI middleware: count and time each request by its route template (never by raw
    path), when its response starts, so a stream counts once, at its headers."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[BaseRoute]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = _route_template(scope, self.routes)
                elapsed = time.perf_counter() - started
                self.metrics.observe(scope["method"], route, message["status"], elapsed)
            await send(message)

        await self.app(scope, receive, observed)


def _route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The matched route's path template; routing stores the route in the scope, so nothing
    is matched twice. A request refused before routing (a 413) is matched here once."""
    route = scope.get("route")
    if route is None:
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
    return str(getattr(route, "path", "unmatched"))
