// A job's live state, folded from its events (docs/http-api.md). Pure: no DOM, no network, so the
// same events always give the same state, however often a reconnecting stream replays them.

// Which events end a job (and the status each sets), and every event type the server sends
// (an EventSource must listen for each by name): the API writes these from its own
// definitions, so the dashboard never keeps a copy.
import { EVENT_TYPES, TERMINAL } from "./events.js";

export { EVENT_TYPES, TERMINAL };

export function newJobState() {
  return {
    lastSeq: 0, // the newest event applied; the stream resumes after it
    status: null, // from events; null until the first one
    strategy: null,
    resumes: 0,
    attemptsUsed: 0,
    budgetLeft: null, // {attempts, seconds, rounds}
    lastAt: null,
    rounds: [], // [{round, planned, attempts: [{index, verdict, passed, total}], step}]
    steps: [], // learner steps in order: {round, loss, kl, grad_norm, seconds}
    adapterVersion: 0,
    ending: null, // the terminal event
  };
}

/**
 * Apply one event; false when it was already applied. Seqs count 1, 2, 3, ... per job and the
 * server replays from `Last-Event-ID`, so anything at or below the last seq is a repeat.
 */
export function applyEvent(state, event) {
  if (!Number.isInteger(event.seq) || event.seq <= state.lastSeq) return false;
  state.lastSeq = event.seq;
  state.attemptsUsed = event.attempts_used;
  state.budgetLeft = event.budget_left;
  state.lastAt = event.at;
  switch (event.type) {
    case "job.queued":
      state.status = "queued";
      break;
    case "job.started":
      state.status = "running";
      state.strategy = event.strategy;
      if (event.resumed) state.resumes += 1;
      break;
    case "round.started":
      roundOf(state, event.round).planned = event.attempts;
      break;
    case "attempt.finished":
      currentRound(state).attempts.push({
        index: event.index,
        verdict: event.verdict,
        passed: event.passed,
        total: event.total,
        truncated: event.truncated ?? false,
      });
      break;
    case "learner.step": {
      const step = {
        round: event.round,
        loss: event.loss,
        kl: event.kl,
        grad_norm: event.grad_norm,
        seconds: event.seconds,
      };
      state.steps.push(step);
      roundOf(state, event.round).step = step;
      break;
    }
    case "adapter.published":
      state.adapterVersion = event.version;
      break;
    default:
      if (event.type in TERMINAL) {
        state.status = TERMINAL[event.type];
        state.ending = event;
      }
  }
  return true;
}

// A resumed job starts its interrupted round again under the same number: reuse the entry.
function roundOf(state, number) {
  let round = state.rounds.find((r) => r.round === number);
  if (!round) {
    round = { round: number, planned: 0, attempts: [], step: null };
    state.rounds.push(round);
    state.rounds.sort((a, b) => a.round - b.round);
  }
  return round;
}

// Attempts carry no round number: they belong to the round started last.
function currentRound(state) {
  const started = state.rounds.at(-1);
  return started ?? roundOf(state, 0);
}

/** Per round: attempts judged, accepted, and the share of test cases passed. */
export function roundStats(round) {
  let passed = 0;
  let total = 0;
  let accepted = 0;
  for (const attempt of round.attempts) {
    passed += attempt.passed;
    total += attempt.total;
    if (attempt.verdict === "accepted") accepted += 1;
  }
  return {
    judged: round.attempts.length,
    accepted,
    passed,
    total,
    passFraction: total > 0 ? passed / total : 0,
  };
}

/**
 * When the budget would run out at the pace so far: the first of attempts, seconds and
 * (when limited) rounds to reach zero. Elapsed time is the budget's own (`max_seconds` minus
 * what is left), so it spans resumes and ignores the browser's clock. Null before any attempt.
 */
export function eta(state, budget) {
  const left = state.budgetLeft;
  if (!left || !budget || state.attemptsUsed === 0) return null;
  const elapsed = budget.max_seconds - left.seconds;
  if (!(elapsed > 0)) return null;
  const perAttempt = elapsed / state.attemptsUsed;
  const candidates = [left.attempts * perAttempt, left.seconds];
  const roundsDone = state.rounds.filter((r) => r.attempts.length > 0).length;
  if (left.rounds !== null && left.rounds !== undefined && roundsDone > 0) {
    candidates.push(left.rounds * (elapsed / roundsDone));
  }
  return { seconds: Math.min(...candidates), elapsed, perAttempt };
}
