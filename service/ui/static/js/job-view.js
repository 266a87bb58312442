// The job page: follows `GET /jobs/{id}/events` with an EventSource and re-reads
// `GET /jobs/{id}` (best attempt, solution, adapter) after the events that change it.
//
// Reconnects lose nothing: the EventSource reconnects by itself with `Last-Event-ID` and the
// server replays from there; if the browser gives up (an HTTP error), a new EventSource
// resumes with `?after=<last seq>`. Either way the state applies each seq once.

import { ApiError, api, authorizedUrl } from "./api.js";
import { AttemptStore } from "./attempts.js";
import { fill, h } from "./dom.js";
import { EVENT_TYPES, TERMINAL, applyEvent, newJobState } from "./job-state.js";
import { attemptDetail, budgetFacts, ending, isActive, learning, timeline } from "./job-panels.js";

const RECOVER_MS = 3000; // after the browser closed the stream for good
const JOB_REFRESH_MS = 500; // coalesces a burst of events into one GET /jobs/{id}
const DISARM_MS = 4000; // the cancel button asks for a second click within this time
const REFRESHING = new Set(["job.started", "attempt.finished", "adapter.published"]);

function section(id, title, ...children) {
  return h("section", { class: "panel", id }, title ? h("h2", {}, title) : null, ...children);
}

/** Mount the page of job `jobId` into `root`; returns the function that unmounts it. */
export function mountJobPage(root, jobId) {
  const path = `jobs/${encodeURIComponent(jobId)}`;
  const state = newJobState();
  const attempts = new AttemptStore(jobId);
  let job = null; // the last GET /jobs/{id}
  let selected = null; // the attempt the reader clicked; null follows the best one
  let shownAttempt = null;
  let source = null;
  let stopped = false;
  let renderQueued = false;
  let refreshTimer = null;
  let recoverTimer = null;

  const badge = h("span", { class: "badge", id: "status" }, "…");
  const streamState = h("span", { class: "stream-state", id: "stream-state" });
  const message = h("span", { class: "muted", id: "job-message", role: "status" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel", hidden: true });
  const parts = {
    budget: section("budget", "Budget"),
    ending: section("ending", null),
    rounds: section("rounds", "Rounds"),
    learning: section("learning", "Learning"),
    attempt: section("attempt", null),
  };
  parts.ending.hidden = true;
  fill(
    root,
    h(
      "section",
      { class: "panel job-head" },
      h("a", { href: "#/" }, "← jobs"),
      h("h1", {}, jobId),
      badge,
      streamState,
      h("span", { class: "spacer" }),
      message,
      cancel,
    ),
    parts.ending,
    parts.budget,
    parts.learning,
    h("div", { class: "grid" }, parts.rounds, parts.attempt),
  );

  function status() {
    return state.status ?? job?.status ?? null;
  }

  function renderLive() {
    renderQueued = false;
    if (stopped) return;
    const now = status();
    fill(badge, job?.cancel_requested && isActive(now) ? "cancelling" : (now ?? "…"));
    badge.className = `badge ${now ?? ""}`;
    cancel.hidden = !isActive(now) || Boolean(job?.cancel_requested);
    fill(parts.budget, h("h2", {}, "Budget"), budgetFacts(state, job));
    fill(parts.rounds, h("h2", {}, "Rounds"), timeline(state, { selected, onSelect: select }));
    fill(parts.learning, h("h2", {}, "Learning"), learning(state, state.strategy ?? job?.strategy));
  }

  function scheduleRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(renderLive);
    }
  }

  function renderEnding() {
    const ended = !isActive(status()) && status() !== null;
    parts.ending.hidden = !ended;
    if (ended) fill(parts.ending, ending(job, state));
  }

  async function renderAttempt() {
    const index = selected ?? job?.best_attempt?.index ?? null;
    if (index === null) {
      const none = h("p", { class: "empty" }, "No attempt judged yet.");
      fill(parts.attempt, h("h2", {}, "Best attempt"), none);
      return;
    }
    const key = `${index}:${selected === null}`;
    if (key === shownAttempt) return;
    const attempt = await attempts.at(index);
    if (stopped || !attempt || (selected ?? job?.best_attempt?.index) !== index) return;
    shownAttempt = key;
    const onShowBest = () => select(null);
    fill(parts.attempt, attemptDetail(attempt, { isBest: selected === null, onShowBest }));
  }

  function select(index) {
    selected = index;
    scheduleRender();
    renderAttempt().catch(showError);
  }

  async function loadJob() {
    job = await api(path);
    if (stopped) return;
    scheduleRender();
    renderEnding();
    await renderAttempt();
  }

  function scheduleJobRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      loadJob().catch(showError);
    }, JOB_REFRESH_MS);
  }

  function showError(error) {
    if (!(error instanceof ApiError)) throw error;
    fill(message, error.message);
  }

  function onEvent(sse) {
    const event = JSON.parse(sse.data);
    if (applyEvent(state, event)) {
      scheduleRender();
      if (REFRESHING.has(event.type) || event.type in TERMINAL) scheduleJobRefresh();
      if (event.type in TERMINAL) renderEnding();
    }
    if (state.ending) {
      // The server ends the stream after the terminal event; without this the browser
      // would reconnect and wait on a job that has nothing more to say.
      source?.close();
      setStream("ended", "");
      fill(message, ""); // e.g. "cancel requested": the ending panel now says what happened
    }
  }

  function setStream(kind, text) {
    streamState.className = `stream-state ${kind}`;
    fill(streamState, text);
  }

  function connect() {
    if (stopped || state.ending) return;
    const params = state.lastSeq ? { after: state.lastSeq } : {};
    const stream = new EventSource(authorizedUrl(`${path}/events`, params));
    source = stream;
    stream.addEventListener("open", () => setStream("live", "live"));
    stream.addEventListener("error", () => {
      if (state.ending || stopped) return;
      setStream("reconnecting", "reconnecting…");
      if (stream.readyState === EventSource.CLOSED) {
        recoverTimer = setTimeout(recover, RECOVER_MS);
      }
    });
    for (const type of EVENT_TYPES) stream.addEventListener(type, onEvent);
  }

  // The browser only gives up on an HTTP error: ask the API what it is before trying again.
  async function recover() {
    try {
      await loadJob();
    } catch (error) {
      showError(error);
      if (error.status === 401 || error.status === 404) return; // a new key remounts the page
    }
    connect();
  }

  let armed = null;
  cancel.addEventListener("click", async () => {
    if (armed === null) {
      cancel.classList.add("armed");
      fill(cancel, "Click again to cancel");
      armed = setTimeout(disarm, DISARM_MS);
      return;
    }
    disarm();
    cancel.disabled = true;
    try {
      job = await api(`${path}/cancel`, { method: "POST" });
      fill(message, "Cancel requested: the job stops at its next phase boundary.");
      scheduleRender();
    } catch (error) {
      showError(error);
    } finally {
      cancel.disabled = false;
    }
  });

  function disarm() {
    clearTimeout(armed);
    armed = null;
    cancel.classList.remove("armed");
    fill(cancel, "Cancel job");
  }
  disarm();

  loadJob()
    .then(() => connect())
    .catch((error) => {
      if (!(error instanceof ApiError)) throw error;
      const missing = error.status === 404;
      const title = missing ? "Job not found" : "Cannot show this job";
      const why = missing ? "No such job, or it belongs to another API key." : error.message;
      fill(root, section("missing", title, h("p", {}, why), h("a", { href: "#/" }, "← jobs")));
    });

  return () => {
    stopped = true;
    source?.close();
    clearTimeout(refreshTimer);
    clearTimeout(recoverTimer);
    clearTimeout(armed);
  };
}
