// The job page's panels, each a function from data to nodes; job-view.js decides when to call
// them. Ids and classes here are what the end-to-end test looks for.

import { authorizedUrl } from "./api.js";
import { lineChart, fractionChart } from "./charts.js";
import { h } from "./dom.js";
import { duration, number, percent } from "./format.js";
import { ACTIVE_STATUSES } from "./events.js";
import { eta, roundStats } from "./job-state.js";

const ACTIVE = new Set(ACTIVE_STATUSES);

export function isActive(status) {
  return ACTIVE.has(status);
}

/** Status, budget used and what is left of it, and when it would run out at this pace. */
export function budgetFacts(state, job) {
  const budget = job?.budget;
  const used = state.attemptsUsed || job?.attempts_used || 0;
  const max = budget?.max_attempts ?? used;
  const left = state.budgetLeft;
  const estimate = eta(state, budget);
  const elapsed = estimate?.elapsed ?? (budget && left ? budget.max_seconds - left.seconds : NaN);
  const status = state.status ?? job?.status;
  let etaText = "–";
  if (!isActive(status)) etaText = "done";
  else if (estimate) etaText = `≤ ${duration(estimate.seconds)}`;
  const rounds = state.rounds.length || job?.rounds || 0;
  const roundsText = budget?.max_rounds ? `${rounds} / ${budget.max_rounds}` : String(rounds);
  const fact = (id, label, value, title) =>
    h("div", {}, h("dt", {}, label), h("dd", { id, title }, value));
  return [
    h(
      "dl",
      { class: "facts" },
      fact("attempts-used", "Attempts", `${used} / ${max}`),
      fact("rounds", "Rounds", roundsText),
      fact("elapsed", "Elapsed", duration(elapsed)),
      fact(
        "eta",
        "Budget runs out in",
        etaText,
        estimate ? `${duration(estimate.perAttempt)} per attempt so far` : undefined,
      ),
      fact("adapter-version", "Adapter", `v${state.adapterVersion || job?.adapter_version || 0}`),
    ),
    h("progress", { class: "budget-bar", max: Math.max(max, 1), value: used }),
  ];
}

function attemptChip(attempt, selected, onSelect) {
  const tests = `${attempt.passed}/${attempt.total}`;
  return h(
    "button",
    {
      type: "button",
      class: ["attempt", attempt.verdict, attempt.index === selected && "selected"],
      "data-index": attempt.index,
      title: `attempt ${attempt.index}: ${attempt.verdict}, ${tests} tests passed` +
        (attempt.truncated ? ", truncated at the token limit" : ""),
      onclick: () => onSelect(attempt.index),
    },
    `#${attempt.index} ${tests}`,
  );
}

/** Rounds, newest first: each attempt's verdict and tests passed, then the learner's step. */
export function timeline(state, { selected, onSelect }) {
  if (state.rounds.length === 0) {
    return h("p", { class: "empty" }, "No round has started yet.");
  }
  const live = isActive(state.status);
  const newest = state.rounds.at(-1);
  const items = [...state.rounds].reverse().map((round) => {
    const stats = roundStats(round);
    const pending = live && round === newest ? Math.max(round.planned - stats.judged, 0) : 0;
    const step = round.step;
    return h(
      "li",
      { class: "round", "data-round": round.round },
      h(
        "div",
        { class: "round-head" },
        h("strong", {}, `round ${round.round}`),
        h("span", {}, `${stats.judged} / ${round.planned || stats.judged} judged`),
        h("span", {}, `tests ${stats.passed}/${stats.total} (${percent(stats.passFraction)})`),
        h("span", {}, `${stats.accepted} accepted`),
        step
          ? h(
              "span",
              { class: "step" },
              `learner step: loss ${number(step.loss)} · KL ${number(step.kl)}`,
            )
          : null,
      ),
      h(
        "div",
        { class: "attempts" },
        round.attempts.map((a) => attemptChip(a, selected, onSelect)),
        Array.from({ length: pending }, () =>
          h("span", { class: "attempt pending", title: "being sampled or judged" }, "…"),
        ),
      ),
    );
  });
  return h("ol", { class: "timeline", id: "timeline" }, items);
}

/** Loss and KL per learner step, and the share of tests passed per round. */
export function learning(state, strategy = state.strategy) {
  const points = (key, label) =>
    state.steps.map((step, i) => ({
      x: String(step.round),
      y: step[key],
      title:
        `step ${i + 1} (after round ${step.round}): ${label} ${number(step[key])}; ` +
        `loss ${number(step.loss)}, KL ${number(step.kl)}, ` +
        `grad norm ${number(step.grad_norm)}, ${step.seconds.toFixed(1)} s`,
    }));
  const noSteps =
    strategy && strategy !== "sdpo"
      ? `${strategy} does not learn: no learner steps.`
      : "No learner step yet: one follows each failed round.";
  const chart = (id, title, seriesClass, key) =>
    h(
      "div",
      { id },
      h("div", { class: "chart-title" }, title),
      state.steps.length
        ? lineChart({ label: title, points: points(key, key), seriesClass })
        : h("p", { class: "empty" }, noSteps),
    );
  const bars = state.rounds
    .filter((round) => round.attempts.length > 0)
    .map((round) => {
      const stats = roundStats(round);
      return {
        x: String(round.round),
        value: stats.passFraction,
        title:
          `round ${round.round}: ${stats.passed}/${stats.total} tests passed, ` +
          `${stats.accepted} of ${stats.judged} attempts accepted`,
      };
    });
  return h(
    "div",
    { class: "chart-row" },
    chart("loss-chart", "Learner loss per step (x: round)", "series-loss", "loss"),
    chart("kl-chart", "KL per step (x: round)", "series-kl", "kl"),
    h(
      "div",
      { id: "pass-chart" },
      h("div", { class: "chart-title" }, "Tests passed per round"),
      bars.length
        ? fractionChart({ label: "Tests passed per round", bars })
        : h("p", { class: "empty" }, "No attempt judged yet."),
    ),
  );
}

/** One attempt: verdict, tests, the feedback the learner saw, and the program. */
export function attemptDetail(attempt, { isBest, onShowBest }) {
  const heading = isBest ? `Best attempt: #${attempt.index}` : `Attempt #${attempt.index}`;
  const verdictClass = attempt.verdict === "accepted" ? "succeeded" : "failed";
  const facts = `${attempt.passed} of ${attempt.total} tests passed · round ${attempt.round}`;
  return [
    h(
      "h2",
      {},
      heading,
      isBest
        ? null
        : [" ", h("button", { type: "button", onclick: onShowBest }, "show the best")],
    ),
    h(
      "p",
      {},
      h("span", { class: ["badge", verdictClass] }, attempt.verdict),
      ` ${facts} · ${attempt.tokens} tokens${attempt.truncated ? " (truncated)" : ""}`,
    ),
    attempt.feedback
      ? [
          h("div", { class: "chart-title" }, "Feedback the learner saw"),
          h("pre", { class: "code feedback", id: "feedback" }, attempt.feedback),
        ]
      : null,
    h("div", { class: "chart-title" }, "Program (as judged)"),
    h("pre", { class: "code", id: "attempt-code" }, attempt.code ?? attempt.response),
    attempt.dropped
      ? [
          h("div", { class: "chart-title" }, "The model's own test code, not judged"),
          h("pre", { class: "code dropped", id: "attempt-dropped" }, attempt.dropped),
        ]
      : null,
  ];
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http off loopback has no Clipboard API: fall back to a selection copy.
  const area = h("textarea", { class: "offscreen", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

/** How the job ended: the solution with copy and adapter download, or why it stopped. */
export function ending(job, state) {
  // The terminal event can arrive before the job is read again: it wins over a stale read.
  const status = state.ending ? state.status : job?.status;
  const version = Math.max(job?.adapter_version ?? 0, state.adapterVersion);
  const id = encodeURIComponent(job?.id ?? state.ending?.job_id);
  const adapter =
    version > 0
      ? h(
          "a",
          { id: "adapter-link", href: authorizedUrl(`jobs/${id}/adapter`), download: "" },
          `Download the adapter (v${version}, safetensors)`,
        )
      : null;
  if (status === "succeeded") {
    const solution = job?.solution ?? state.ending?.solution ?? "";
    const attempt = job?.discovery_index ?? state.ending?.attempt;
    const copy = h("button", { type: "button", id: "copy-solution" }, "Copy");
    copy.addEventListener("click", async () => {
      try {
        await copyText(solution);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed: select the text";
      }
      setTimeout(() => (copy.textContent = "Copy"), 2000);
    });
    return [
      h("h2", { class: "ending succeeded" }, `Solved by attempt #${attempt}`),
      h("pre", { class: "code", id: "solution" }, solution),
      h("div", { class: "solution-actions" }, copy, adapter),
    ];
  }
  const reasons = {
    exhausted: "The budget ran out without a program that passes every test.",
    cancelled: "Cancelled.",
    failed: `Failed: ${job?.failure_reason ?? state.ending?.reason ?? "unknown reason"}`,
  };
  return [
    h("h2", { class: ["ending", status] }, reasons[status] ?? status),
    adapter ? h("div", { class: "solution-actions" }, adapter) : null,
  ];
}
