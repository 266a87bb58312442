"""The dashboard end to end: Debian's headless Chromium, driven by Playwright, against a real
`retrospect serve` on loopback (the default model, the Docker sandbox, no API key).

Submit the example from the form, watch its events arrive, see it solved (solution, copy,
adapter download), rebuild the page through a stream that drops mid-way and replays, and cancel
a bigger job mid-round with the button.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.integration.service.processes import (
    EXAMPLE,
    JOB_TIMEOUT_S,
    SOLVING_SEED,
    embedded_server,
    solve_body,
    sse_events,
)
from tests.integration.ui.pages import (
    ATTEMPT_CHIPS,
    KL_POINTS,
    LOSS_POINTS,
    PASS_BARS,
    PENDING_CHIPS,
    STATUS,
    SUBMIT,
    job_id_of,
    open_page,
    screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = [pytest.mark.ui, pytest.mark.model, pytest.mark.docker]
JOB_MS = JOB_TIMEOUT_S * 1000
RECONNECT_MS = 4000  # Chromium's EventSource retries after 3 s
SOLVED: dict[str, str] = {}  # the job the form test solved, for the replay test


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_server(tmp_path_factory.mktemp("dashboard")) as (base, _):
        yield base


@pytest.fixture
def solved_job(server: str) -> str:
    """The job the form test solved; submitted over HTTP when that test did not run."""
    if "id" not in SOLVED:
        with httpx.Client(base_url=server, timeout=30) as client:
            job_id = str(client.post("/solve", json=solve_body()).json()["id"])
            sse_events(client, job_id)
        SOLVED["id"] = job_id
    return SOLVED["id"]


def truth(server: str, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job and its whole event log, read over HTTP: what the page must show."""
    with httpx.Client(base_url=server, timeout=30) as client:
        return client.get(f"/jobs/{job_id}").json(), sse_events(client, job_id)


def assert_page_matches(page: Any, job: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Every attempt once, a point per learner step, a bar per judged round."""
    from playwright.sync_api import expect

    kinds = [e["type"] for e in events]
    rounds = {e["round"] for e in events if e["type"] == "round.started"}
    expect(page.locator(ATTEMPT_CHIPS)).to_have_count(kinds.count("attempt.finished"))
    expect(page.locator(LOSS_POINTS)).to_have_count(kinds.count("learner.step"))
    expect(page.locator(KL_POINTS)).to_have_count(kinds.count("learner.step"))
    expect(page.locator(PASS_BARS)).to_have_count(len(rounds))
    expect(page.locator("#attempts-used")).to_have_text(
        f"{job['attempts_used']} / {job['budget']['max_attempts']}"
    )


def test_a_problem_submitted_from_the_form_is_watched_until_solved(
    browser: Browser, server: str, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    watched = open_page(browser, server, permissions=["clipboard-read", "clipboard-write"])
    page = watched.page
    try:
        page.goto(f"{server}/ui")
        expect(page).to_have_url(f"{server}/ui/")

        # A refusal names its field, next to the input that holds it.
        page.fill("#f-problem", EXAMPLE.read_text())
        page.fill("#f-max_attempts", "8")
        page.fill("#f-attempts_per_round", "16")
        page.click(SUBMIT)
        expect(page.locator(".form-error")).to_contain_text("budget.attempts_per_round")
        expect(page.locator("#f-attempts_per_round")).to_have_attribute("aria-invalid", "true")

        # The real submission, with the problem loaded from its file.
        page.fill("#f-problem", "")
        page.set_input_files("#f-file", str(EXAMPLE))
        expect(page.locator("#f-problem")).to_have_value(re.compile("sum_evens"))
        page.select_option("#f-strategy", "sdpo")
        page.fill("#f-attempts_per_round", "2")
        page.fill("#f-max_new_tokens", "64")
        page.fill("#f-seed", str(SOLVING_SEED))
        started = time.monotonic()
        page.click(SUBMIT)
        page.wait_for_url(re.compile(r"#/jobs/[0-9a-f-]{36}$"))
        job_id = job_id_of(page)

        # Events arrive while the job runs: attempts first (the solving one is not the first).
        expect(page.locator(ATTEMPT_CHIPS).first).to_be_visible(timeout=JOB_MS)
        assert page.locator(STATUS).text_content() == "running"
        expect(page.locator("#stream-state")).to_have_text("live")
        expect(page.locator(STATUS)).to_have_text("succeeded", timeout=JOB_MS)
        print(f"solved in the browser after {time.monotonic() - started:.1f} s")

        job, events = truth(server, job_id)
        assert job["status"] == "succeeded" and job["adapter_version"] > 0
        assert_page_matches(page, job, events)
        expect(page.locator("#solution")).to_have_text(job["solution"])
        expect(page.locator("#attempt .badge")).to_have_text("accepted")
        screenshot(page, artifacts, "dashboard-solved")

        page.click("#copy-solution")
        expect(page.locator("#copy-solution")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == job["solution"]

        link = page.locator("#adapter-link")
        expect(link).to_contain_text(f"v{job['adapter_version']}")
        adapter = page.request.get(str(link.get_attribute("href")))
        assert adapter.status == 200 and len(adapter.body()) > 1000
        assert adapter.headers["x-adapter-version"] == str(job["adapter_version"])
        SOLVED["id"] = job_id

        # The list: status, strategy, attempts used of the budget, and the problem's title.
        page.click("text=← jobs")
        row = page.locator(f'tr[data-job-id="{job_id}"]')
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text(f"{job['attempts_used']} / 8")
        expect(row).to_contain_text("Sum of even numbers")
    finally:
        watched.context.close()
    assert watched.problems == []


def test_a_dropped_stream_resumes_without_losing_or_repeating_events(
    browser: Browser, server: str, solved_job: str
) -> None:
    """The first stream ends after the second attempt; the browser reconnects by itself, and
    the answer replays from three events earlier than the page has, as a server may after a
    reconnect. The page shows every event once, and asks for nothing after the terminal one."""
    from playwright.sync_api import expect

    job, events = truth(server, solved_job)
    second_attempt = [e["seq"] for e in events if e["type"] == "attempt.finished"][1]
    streams: list[str] = []

    def cut_then_rewind(route: Route) -> None:
        # The job has ended, so each of the server's streams is complete when fetched.
        streams.append(route.request.url)
        if len(streams) == 1:
            blocks = re.split(r"\r?\n\r?\n", route.fetch().text())
            kept = [b for b in blocks if "data:" in b][:second_attempt]
            body = "\r\n\r\n".join(kept) + "\r\n\r\n"
            route.fulfill(status=200, body=body, headers={"content-type": "text/event-stream"})
            return
        rewound = {**route.request.headers, "last-event-id": str(second_attempt - 3)}
        route.fulfill(response=route.fetch(headers=rewound))

    watched = open_page(browser, server)
    page = watched.page
    try:
        page.route(re.compile(r"/jobs/[^/]+/events"), cut_then_rewind)
        page.goto(f"{server}/ui/#/jobs/{solved_job}")
        expect(page.locator(STATUS)).to_have_text("succeeded", timeout=30_000)
        assert_page_matches(page, job, events)
        page.wait_for_timeout(RECONNECT_MS)  # an EventSource left open would reconnect by now
    finally:
        watched.context.close()
    assert len(streams) == 2, streams
    assert watched.problems == []


def test_the_cancel_button_stops_a_bigger_job_mid_round(
    browser: Browser, server: str, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    body = solve_body(max_attempts=64, attempts_per_round=8)
    body["sampling"] = {"max_new_tokens": 512}
    with httpx.Client(base_url=server, timeout=30) as client:
        job_id = client.post("/solve", json=body).json()["id"]
    watched = open_page(browser, server)
    page = watched.page
    try:
        page.goto(f"{server}/ui/#/jobs/{job_id}")
        # Mid-round: round 0 has started and attempts are still being sampled.
        expect(page.locator(PENDING_CHIPS).first).to_be_visible(timeout=JOB_MS)
        cancel = page.locator("#cancel")
        cancel.click()
        expect(cancel).to_have_text("Click again to cancel")
        cancel.click()
        expect(page.locator(STATUS)).to_have_text("cancelled", timeout=JOB_MS)
        expect(page.locator("#ending")).to_contain_text("Cancelled")
        expect(cancel).to_be_hidden()
        screenshot(page, artifacts, "dashboard-cancelled")
    finally:
        watched.context.close()
    with httpx.Client(base_url=server, timeout=30) as client:
        job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["attempts_used"] < 8, job
    assert watched.problems == []
