"""What the API's handlers share: settings, the database, the bus, metrics, maybe a worker."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.api.metrics import Metrics
from service.api.revocation import KeyChecks
from service.bus import Bus
from service.config import Settings
from service.jobs.worker import Worker


@dataclass
class AppState:
    """One per app; `worker` is set when the app runs its worker in-process (`serve`)."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]  # read-only: GETs and streams
    bus: Bus
    keys_required: bool
    metrics: Metrics
    key_checks: KeyChecks
    worker: Worker | None = None


async def get_state(request: Request) -> AppState:
    """The app's state (a FastAPI dependency; async, so FastAPI needs no thread for it)."""
    state: AppState = request.app.state.retrospect
    return state


async def get_ws_state(websocket: WebSocket) -> AppState:
    """The app's state, for WebSocket routes."""
    state: AppState = websocket.app.state.retrospect
    return state


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the API on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keys_required(settings: Settings, bind_host: str) -> bool:
    """The embedded default on loopback needs no key; any other bind does (docs/http-api.md)."""
    if settings.require_api_keys is not None:
        return settings.require_api_keys
    return not is_loopback(bind_host)
