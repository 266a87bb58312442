"""The dashboard's event folding (`job-state.js`) in the real browser engine, no server: the
static files are served to Chromium from disk under a made-up origin, `js/events.js` as
the API writes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from service.api.ui import events_module
from tests.integration.ui.pages import STATIC, open_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = [pytest.mark.ui]
ORIGIN = "http://dashboard.test"
MAX_SECONDS = 100.0


def event(seq: int, kind: str, used: int, left_s: float, **fields: Any) -> dict[str, Any]:
    left = {"attempts": 8 - used, "seconds": left_s, "rounds": None}
    at = f"2026-01-01T00:00:{seq:02d}Z"
    stamp = {"job_id": "j", "seq": seq, "at": at, "type": kind}
    return {**stamp, "attempts_used": used, "budget_left": left, **fields}


def attempt(seq: int, index: int, verdict: str, passed: int, left_s: float) -> dict[str, Any]:
    judged = {"index": index, "verdict": verdict, "passed": passed, "total": 3}
    return event(seq, "attempt.finished", index + 1, left_s, **judged)


# A job that is interrupted and resumed in round 1, seen through a stream that replays.
EVENTS = [
    event(1, "job.queued", 0, 100),
    event(2, "job.started", 0, 100, strategy="sdpo", resumed=False),
    event(3, "round.started", 0, 99, round=0, attempts=2),
    attempt(4, 0, "wrong_answer", 1, 90),
    attempt(5, 1, "runtime_error", 2, 80),
    event(3, "round.started", 0, 99, round=0, attempts=2),  # replayed after a reconnect
    attempt(4, 0, "wrong_answer", 1, 90),  # replayed
    event(6, "learner.step", 2, 75, round=0, loss=0.5, kl=0.25, grad_norm=1.0, seconds=4.0),
    event(7, "adapter.published", 2, 74, version=1),
    event(8, "round.started", 2, 74, round=1, attempts=2),
    event(9, "job.started", 2, 74, strategy="sdpo", resumed=True),
    event(10, "round.started", 2, 70, round=1, attempts=2),
    attempt(11, 2, "wrong_answer", 0, 65),
    attempt(12, 3, "accepted", 3, 60),
    attempt(12, 3, "accepted", 3, 60),  # replayed
    event(13, "job.succeeded", 4, 60, attempt=3, solution="def f(): ..."),
]

FOLD = """async ({events, budget}) => {
  const m = await import("/js/job-state.js");
  const state = m.newJobState();
  const applied = events.map((event) => m.applyEvent(state, event));
  return {
    applied,
    state: JSON.parse(JSON.stringify(state)),
    stats: state.rounds.map(m.roundStats),
    eta: m.eta(state, budget),
  };
}"""


def serve_static(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?")[0].lstrip("/")
    if path == "":
        route.fulfill(body="<!doctype html><title>state</title>", content_type="text/html")
    elif path == "js/events.js":  # written by the API, not a file on disk
        route.fulfill(body=events_module(), content_type="text/javascript")
    else:
        route.fulfill(path=STATIC / path, content_type="text/javascript")


def test_each_seq_applies_once_and_a_resumed_round_is_one_round(browser: Browser) -> None:
    watched = open_page(browser, ORIGIN)
    try:
        watched.page.route(f"{ORIGIN}/**", serve_static)
        watched.page.goto(f"{ORIGIN}/")
        budget = {"max_attempts": 8, "max_seconds": MAX_SECONDS}
        result = watched.page.evaluate(FOLD, {"events": EVENTS, "budget": budget})
    finally:
        watched.context.close()
    repeats = [i for i, e in enumerate(EVENTS) if any(p["seq"] >= e["seq"] for p in EVENTS[:i])]
    assert [not applied for applied in result["applied"]] == [
        i in repeats for i in range(len(EVENTS))
    ]
    state = result["state"]
    assert state["lastSeq"] == 13 and state["status"] == "succeeded" and state["resumes"] == 1
    assert [[a["index"] for a in r["attempts"]] for r in state["rounds"]] == [[0, 1], [2, 3]]
    assert [s["loss"] for s in state["steps"]] == [0.5] and state["rounds"][0]["step"]["kl"] == 0.25
    assert state["adapterVersion"] == 1 and state["ending"]["solution"] == "def f(): ..."
    assert [(s["passed"], s["total"], s["accepted"]) for s in result["stats"]] == [
        (3, 6, 0),
        (3, 6, 1),
    ]
    # 40 s spent on 4 attempts: the 4 left take 40 s more, before the 60 s left run out.
    assert result["eta"] == {"seconds": 40.0, "elapsed": 40.0, "perAttempt": 10.0}
    assert watched.problems == []
