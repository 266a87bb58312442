// The start page: the submit form and the caller's jobs, newest first, refreshed every few
// seconds (the list has no event stream; each job page has its own).

import { ApiError, api } from "./api.js";
import { fill, h } from "./dom.js";
import { age, shortId } from "./format.js";
import { submitForm } from "./submit-form.js";

const REFRESH_MS = 3000;

function jobRow(job) {
  const title = typeof job.metadata?.title === "string" ? job.metadata.title : null;
  const href = `#/jobs/${encodeURIComponent(job.id)}`;
  return h(
    "tr",
    { "data-job-id": job.id },
    h(
      "td",
      {},
      h("a", { href, class: "job-link" }, h("code", {}, shortId(job.id))),
      title ? h("span", { class: "job-title" }, title) : null,
    ),
    h("td", {}, h("span", { class: ["badge", job.status] }, job.status)),
    h("td", {}, job.strategy),
    h(
      "td",
      { class: "attempts-used" },
      h("progress", { max: job.max_attempts, value: job.attempts_used }),
      `${job.attempts_used} / ${job.max_attempts}`,
    ),
    // Which worker holds the job right now: jobs sharing a worker's model show the same one.
    h("td", { class: "worker" }, job.worker ? h("code", {}, job.worker) : "—"),
    h("td", { title: job.created_at }, age(job.created_at)),
  );
}

/** Mount the job list into `root`; returns the function that unmounts it. */
export function mountJobList(root) {
  const body = h("tbody");
  const note = h("p", { class: "muted" });
  const more = h("button", { type: "button", hidden: true }, "Older jobs");
  let pages = 1; // how many pages the reader has asked to see
  let timer = null;
  let stopped = false;

  async function refresh() {
    clearTimeout(timer);
    try {
      const jobs = [];
      let cursor = null;
      for (let page = 0; page < pages; page += 1) {
        const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
        const answer = await api(`jobs${query}`);
        jobs.push(...answer.data);
        cursor = answer.next_cursor;
        if (!cursor) break;
      }
      if (stopped) return;
      fill(body, jobs.map(jobRow));
      fill(note, jobs.length ? "" : "No jobs yet: submit a problem above.");
      more.hidden = !cursor;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      fill(note, `Could not list jobs: ${error.message}`);
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  more.addEventListener("click", () => {
    pages += 1;
    refresh();
  });

  const form = submitForm((id) => {
    location.hash = `#/jobs/${encodeURIComponent(id)}`;
  });
  fill(
    root,
    h("section", { class: "panel" }, h("h2", {}, "Submit a problem"), form),
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "Jobs"),
      h(
        "table",
        { class: "jobs", id: "jobs" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Job", "Status", "Strategy", "Attempts", "Worker", "Submitted"].map((t) => h("th", {}, t)),
          ),
        ),
        body,
      ),
      note,
      more,
    ),
  );
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
