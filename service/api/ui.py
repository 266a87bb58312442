"""The dashboard (`/ui`): static ES modules and CSS that talk to this same API.

There is no front-end server and no build step: the files under `service/ui/static/` are
served as they are. The Content-Security-Policy keeps the page to this origin, so the browser
never fetches anything from elsewhere (no CDN, no fonts, no analytics), and an injected string
could not load or run a script. The routes stay out of the OpenAPI schema: they are a client
of the API, not part of it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

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


@router.api_route("/ui/{path:path}", methods=["GET", "HEAD"])
async def ui_file(path: str, request: Request) -> Response:
    """A file of the dashboard; ETag and Last-Modified let the browser revalidate cheaply."""
    response = await _files.get_response(path, request.scope)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Revalidate on every load, so a server upgrade never runs next to stale modules.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
