"""Prometheus metrics (`GET /metrics`).

Request counts and latencies are this API process's own. Job counts by status are read from
the database at scrape time, so every API replica reports the fleet's truth, including work
done by workers in other processes. Each app has its own registry (tests build many apps).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from service.store.models import Attempt, Job
from service.store.status import JobStatus


class Metrics:
    """The app's collectors."""

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
        self.streams = Gauge(
            "retrospect_streams_open", "open SSE and WebSocket streams", registry=self.registry
        )
        self.jobs = Gauge(
            "retrospect_jobs", "jobs by status (fleet-wide)", ["status"], registry=self.registry
        )
        self.attempts = Gauge(
            "retrospect_attempts", "judged attempts (fleet-wide)", registry=self.registry
        )

    async def refresh(self, session: AsyncSession) -> None:
        """Read the fleet-wide gauges from the database."""
        counts = dict(
            (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
        )
        for status in JobStatus:
            self.jobs.labels(status=status.value).set(counts.get(status, 0))
        self.attempts.set(int((await session.scalar(select(func.count(Attempt.index)))) or 0))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Count and time each request by its route template (never by raw path)."""
        started = time.perf_counter()
        response = await call_next(request)
        route = _route_template(request)
        self.latency.labels(request.method, route).observe(time.perf_counter() - started)
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        return response


def _route_template(request: Request) -> str:
    """The matched route's path template; routing stores the route in the scope, so nothing
    is matched twice. A request refused before routing (a 413) is matched here once."""
    route = request.scope.get("route")
    if route is None:
        route = next(
            (r for r in request.app.router.routes if r.matches(request.scope)[0] is Match.FULL),
            None,
        )
    return str(getattr(route, "path", "unmatched"))
