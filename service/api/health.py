"""Liveness, readiness and metrics."""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.deps import State, Who
from service.api.metrics import render_jobs, render_worker
from service.api.schemas import ErrorBody, Health
from service.api.state import AppState
from service.store.jobs import owned_by

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: State) -> Response:
    """The database (and Redis, and the in-process worker, where there are) are usable."""
    checks = {"database": await _database_ok(state)}
    ping = getattr(state.bus, "ping", None)
    if ping is not None:
        checks["bus"] = await _safely(ping())
    if state.worker is not None:
        checks["worker"] = state.worker.ready.is_set()
    ok = all(checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorBody}},
)
async def metrics(state: State, who: Who) -> Response:
    """Prometheus text format: this process's requests and streams, and the caller's jobs
    (every key's with `RETROSPECT_METRICS_FLEET=true`). Needs a key where keys are required."""
    owner = None if state.settings.metrics_fleet else owned_by(who.api_key_id)
    async with state.reads() as session:
        jobs = await render_jobs(session, owner)
    worker = render_worker(state.worker) if state.worker is not None else b""
    return Response(state.metrics.render() + jobs + worker, media_type="text/plain; version=0.0.4")


async def _database_ok(state: AppState) -> bool:
    async def probe() -> bool:
        async with state.reads() as session:
            await session.execute(text("SELECT 1"))
        return True

    return await _safely(probe())


async def _safely(check: Awaitable[bool]) -> bool:
    try:
        return bool(await check)
    except Exception:
        return False
