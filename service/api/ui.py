"""The dashboard (`/ui`): static ES modules and CSS that talk to this same API.

There is no front-end server and no build step: the files under `service/ui/static/` are
served as they are. The Content-Security-Policy keeps the page to this origin, so the browser
never fetches anything from elsewhere (no CDN, no fonts, no analytics), and an injected string
could not load or run a script. The routes stay out of the OpenAPI schema: they are a client
of the API, not part of it.

One module is not a file: `/ui/js/events.js` is written here from the solver's event types
and endings, so the dashboard never holds its own copy of which events end a job.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from service.solver.endings import OutcomeStatus
from service.solver.events import EVENT_TYPES
from service.store.status import ACTIVE, JobStatus

STATIC_DIR = Path(__file__).resolve().parents[1] / "ui" / "static"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)

router = APIRouter(include_in_schema=False)
# html=True serves index.html for `/ui/`; StaticFiles also refuses paths outside the directory.
_files = StaticFiles(directory=STATIC_DIR, html=True)


@router.get("/ui")
async def ui_root() -> RedirectResponse:
    """`/ui` → `/ui/`, so the page's relative module paths resolve under it."""
    return RedirectResponse("ui/", status_code=308)  # relative: works under a proxy prefix


def events_module() -> str:
    """The ES module of event facts the dashboard imports: which events end a job (with the
    status each sets), every event type (an EventSource listens for each by name), and the
    statuses of a job that has not ended."""
    terminal = {ending.event_type: ending.value for ending in OutcomeStatus}
    active = [status.value for status in JobStatus if status in ACTIVE]
    return (
        "// Written by the API from the solver's events (service/api/ui.py); never edited.\n"
        f"export const TERMINAL = {json.dumps(terminal)};\n"
        f"export const EVENT_TYPES = {json.dumps(list(EVENT_TYPES))};\n"
        f"export const ACTIVE_STATUSES = {json.dumps(active)};\n"
    )


@router.api_route("/ui/js/events.js", methods=["GET", "HEAD"])
async def ui_events() -> Response:
    """The generated `events.js` (registered before the static files, which it shadows)."""
    response = Response(events_module(), media_type="text/javascript")
    return _dashboard_headers(response)


@router.api_route("/ui/{path:path}", methods=["GET", "HEAD"])
async def ui_file(path: str, request: Request) -> Response:
    """A file of the dashboard; ETag and Last-Modified let the browser revalidate cheaply."""
    response = await _files.get_response(path, request.scope)
    return _dashboard_headers(response)


def _dashboard_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Revalidate on every load, so a server upgrade never runs next to stale modules.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
