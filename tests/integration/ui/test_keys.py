"""The dashboard where keys are required: `retrospect api` (no worker, so jobs stay queued)
with `RETROSPECT_REQUIRE_API_KEYS=true`. A key entered once is kept in the browser and sent
on every call: as a bearer header on fetches, as `?access_token=` on the event stream."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.integration.service.processes import (
    EXAMPLE,
    REPO,
    free_port,
    problem,
    service_env,
    start,
    wait_ready,
)
from tests.integration.ui.pages import STATUS, SUBMIT, job_id_of, open_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def keyed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The API's base URL and a key it accepts."""
    data_dir = tmp_path_factory.mktemp("keyed")
    env = service_env(data_dir, RETROSPECT_REQUIRE_API_KEYS="true")
    created = subprocess.run(
        [sys.executable, "-m", "service.cli", "keys", "create", "dashboard"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    port = free_port()
    service = start(["api", "--port", str(port)], env, data_dir / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, service)
        yield base, created.stdout.strip()
    finally:
        service.stop()


@pytest.mark.ui
def test_a_key_entered_once_is_kept_and_sent_everywhere(
    browser: Browser, keyed_api: tuple[str, str]
) -> None:
    from playwright.sync_api import expect

    base, key = keyed_api
    watched = open_page(browser, base)
    page = watched.page
    try:
        page.goto(f"{base}/ui/")
        expect(page.locator("#auth-banner")).to_contain_text("needs an API key")
        page.fill("#api-key", "rsk_not-a-key")
        page.click("#key-form button[type=submit]")
        expect(page.locator("#auth-banner")).to_contain_text("was refused")
        page.fill("#api-key", key)
        page.click("#key-form button[type=submit]")
        expect(page.locator("#jobs")).to_be_visible()
        page.reload()  # kept: the next visit needs no key typed
        expect(page.locator("#key-state")).to_have_text("key saved in this browser")

        page.fill("#f-problem", EXAMPLE.read_text())
        page.fill("#f-max_attempts", "8")
        page.click(SUBMIT)
        page.wait_for_url("**/ui/#/jobs/*")
        job_id = job_id_of(page)
        # No worker here: the job stays queued, and its one event arrives over the stream.
        expect(page.locator(STATUS)).to_have_text("queued")
        expect(page.locator("#stream-state")).to_have_text("live")
        page.locator("#cancel").click()
        page.locator("#cancel").click()
        expect(page.locator(STATUS)).to_have_text("cancelled")
        expect(page.locator("#auth-banner")).to_be_hidden()
    finally:
        watched.context.close()
    # The event streams (`/jobs/{id}/events`), not the dashboard's `/ui/js/events.js` module.
    streams = [url for url in watched.requests if "/jobs/" in url and "/events" in url]
    assert streams and all(f"access_token={key}" in url for url in streams), streams
    assert watched.problems == []

    # Another browser has no key: the job is not shown, and the header asks for one.
    stranger = open_page(browser, base)
    try:
        stranger.page.goto(f"{base}/ui/#/jobs/{job_id}")
        expect(stranger.page.locator("#missing")).to_contain_text("API key is required")
        expect(stranger.page.locator("#auth-banner")).to_be_visible()
    finally:
        stranger.context.close()


def test_the_adapter_download_takes_the_key_as_a_query_parameter(
    keyed_api: tuple[str, str],
) -> None:
    """A download link cannot set headers; a job without an adapter answers 404, not 401."""
    base, key = keyed_api
    with httpx.Client(base_url=base, timeout=30) as client:
        bearer = {"Authorization": f"Bearer {key}"}
        created = client.post("/solve", json={"problem": problem()}, headers=bearer)
        job_id = created.json()["id"]
        assert client.get(f"/jobs/{job_id}/adapter").status_code == 401
        assert client.get(f"/jobs/{job_id}/adapter?access_token=rsk_wrong").status_code == 401
        assert client.get(f"/jobs/{job_id}/adapter?access_token={key}").status_code == 404
        client.post(f"/jobs/{job_id}/cancel", headers=bearer)
