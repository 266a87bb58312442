"""Liveness, readiness and metrics."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.schemas import Health
from service.api.state import AppState, get_state

router = APIRouter(tags=["operations"])
State = Annotated[AppState, Depends(get_state)]


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


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(state: State) -> Response:
    """Prometheus text format."""
    async with state.sessions() as session:
        await state.metrics.refresh(session)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def _database_ok(state: AppState) -> bool:
    async def probe() -> bool:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
        return True

    return await _safely(probe())


async def _safely(check: Awaitable[bool]) -> bool:
    try:
        return bool(await check)
    except Exception:
        return False
