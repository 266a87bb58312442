"""What the dashboard tests share: a page that records what went wrong in the browser, and
the dashboard's selectors in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request

STATIC = Path(__file__).resolve().parents[3] / "service" / "ui" / "static"
JOB_URL = re.compile(r"#/jobs/([0-9a-f-]{36})$")
# Chromium logs every 4xx the page asks for; the page handles those answers (they are tested).
HANDLED_HTTP_ERROR = re.compile(
    r"^Failed to load resource: the server responded with a status of 4"
)

SUBMIT = "#submit-form button[type=submit]"
STATUS = "#status"
ATTEMPT_CHIPS = "#timeline .attempt[data-index]"
PENDING_CHIPS = "#timeline .attempt.pending"
LOSS_POINTS = "#loss-chart circle"
KL_POINTS = "#kl-chart circle"
PASS_BARS = "#pass-chart rect.bar"


@dataclass
class Watched:
    """A page, and what it did that a working dashboard never does: script errors, console
    errors other than handled HTTP answers, and requests to any origin but the server's."""

    page: Page
    context: BrowserContext
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Browser, origin: str, **context_options: Any) -> Watched:
    """A fresh context (empty storage) and a page in it, watched."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
    watched = Watched(page, context)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not HANDLED_HTTP_ERROR.match(message.text):
            watched.problems.append(f"console error: {message.text}")

    def on_request(request: Request) -> None:
        watched.requests.append(request.url)
        if not request.url.startswith((origin, "data:")):
            watched.problems.append(f"request outside the server: {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("request", on_request)
    return watched


def job_id_of(page: Page) -> str:
    """The id in a job page's URL."""
    match = JOB_URL.search(page.url)
    assert match is not None, page.url
    return match.group(1)


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """A full-page PNG kept as a test artifact; its path is printed for the log."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
