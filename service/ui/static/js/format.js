// Numbers and times for people.

/** 42 s, 3 min 05 s, 2 h 10 min. */
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${Math.floor(minutes / 1440)} d ${Math.floor((minutes % 1440) / 60)} h`;
}

/** How long ago an ISO timestamp was. */
export function age(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "–";
  return `${duration((now - then) / 1000)} ago`;
}

export function percent(fraction) {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : "–";
}

/** Enough digits to tell learner steps apart, without noise. */
export function number(value) {
  if (!Number.isFinite(value)) return "–";
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 0.001 || magnitude >= 1e5)) return value.toExponential(2);
  return value.toFixed(magnitude < 1 ? 4 : 3);
}

export function shortId(id) {
  return id.length > 8 ? id.slice(0, 8) : id;
}
