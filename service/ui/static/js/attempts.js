// A job's attempts, fetched on demand and kept: a recorded attempt never changes. The API pages
// them from index 0 with opaque cursors, so a page is only ever reached from a cursor the
// server handed out; the last page is read again when later attempts are wanted.

import { api } from "./api.js";

const PAGE = 200;

export class AttemptStore {
  constructor(jobId) {
    this.jobId = jobId;
    this.byIndex = new Map();
    this.pages = [{ start: 0, cursor: null }]; // where each known page begins
  }

  /** The attempt with this index (code, verdicts, feedback), or null if not recorded yet. */
  async at(index) {
    if (this.byIndex.has(index)) return this.byIndex.get(index);
    let page = this.pages.filter((p) => p.start <= index).at(-1);
    for (;;) {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (page.cursor) query.set("cursor", page.cursor);
      const answer = await api(`jobs/${encodeURIComponent(this.jobId)}/attempts?${query}`);
      for (const attempt of answer.data) this.byIndex.set(attempt.index, attempt);
      if (this.byIndex.has(index)) return this.byIndex.get(index);
      if (!answer.next_cursor || answer.data.length === 0) return null;
      page = { start: answer.data.at(-1).index + 1, cursor: answer.next_cursor };
      if (!this.pages.some((p) => p.start === page.start)) {
        this.pages.push(page);
        this.pages.sort((a, b) => a.start - b.start);
      }
    }
  }
}
