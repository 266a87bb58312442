"""The FastAPI app: routes, error mapping, limits, metrics, and the lifespan that owns the
database engine, the bus and (for `retrospect serve`) an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from service.api import health, jobs, streams, ui
from service.api.errors import UnexpectedErrors, install_error_handlers
from service.api.limits import BodySizeLimit, HeadLimit
from service.api.logs import install_redaction
from service.api.metrics import Metrics, RequestMetrics
from service.api.openapi import install_schema
from service.api.revocation import KeyChecks
from service.api.state import AppState, keys_required
from service.bus import Bus, make_bus
from service.config import Settings
from service.jobs.parts import WorkerParts
from service.jobs.worker import Worker
from service.store.connect import open_store

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    bind_host: str = "127.0.0.1",
    worker_parts: Callable[[], WorkerParts] | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    """The API; with `worker_parts` it also runs a worker in its own event loop."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_store(settings) as store:
            state = AppState(
                settings=settings,
                engine=store.engine,
                sessions=store.sessions,
                reads=store.reads,
                bus=bus or make_bus(settings),
                keys_required=keys_required(settings, bind_host),
                metrics=metrics,
                key_checks=KeyChecks(store.reads),
            )
            app.state.retrospect = state
            task = _start_worker(state, worker_parts)
            try:
                yield
            finally:
                await _stop_worker(state, task)
                await state.bus.close()

    app = FastAPI(
        title="retrospect",
        summary="A test-time solver: sample, judge in a sandbox, learn from the feedback.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_schema(app)
    install_redaction()
    # Added innermost first: metrics see every answer, the 413s and the 500s included.
    app.add_middleware(UnexpectedErrors, on_client_gone=metrics.client_disconnects.inc)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.limits.max_body_bytes,
        timeout_s=settings.edge.body_timeout_s,
    )
    app.add_middleware(
        HeadLimit, max_headers=settings.edge.max_headers, max_bytes=settings.edge.max_header_bytes
    )
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.router.routes)
    for router in (jobs.router, streams.router, health.router, ui.router):
        app.include_router(router)
    return app


def _start_worker(
    state: AppState, parts: Callable[[], WorkerParts] | None
) -> asyncio.Task[None] | None:
    if parts is None:
        return None
    state.worker = Worker(state.settings, state.sessions, state.bus, parts)
    task = asyncio.create_task(state.worker.run(), name="retrospect-worker")
    task.add_done_callback(_log_worker_end)
    return task


async def _stop_worker(state: AppState, task: asyncio.Task[None] | None) -> None:
    if state.worker is None or task is None:
        return
    state.worker.stop()
    await asyncio.gather(task, return_exceptions=True)


def _log_worker_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the in-process worker stopped", exc_info=task.exception())
