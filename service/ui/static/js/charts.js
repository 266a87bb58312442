// Small SVG charts, drawn by hand: a job has tens to thousands of points, which plain SVG
// handles, and a charting library would be the page's largest file by far.

import { svg } from "./dom.js";
import { number } from "./format.js";

const WIDTH = 400;
const HEIGHT = 170;
const PAD = { left: 52, right: 12, top: 12, bottom: 26 };

function frame(label) {
  return svg("svg", {
    class: "chart",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
  });
}

// The y range with a little headroom; a flat series still gets a visible band.
function yRange(values) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high === low) {
    const spread = Math.abs(high) * 0.1 || 1;
    high += spread;
    low -= spread;
  }
  return [low, high + (high - low) * 0.05];
}

function axes(chart, [low, high], xLabels, scaleX, format) {
  const bottom = HEIGHT - PAD.bottom;
  chart.append(
    svg("line", { class: "axis", x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
  );
  for (const value of [low, (low + high) / 2, high]) {
    const y = bottom - ((value - low) / (high - low)) * (bottom - PAD.top);
    chart.append(svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, format(value)));
  }
  // At most ~10 labels on the x axis, whatever the number of points.
  const every = Math.max(1, Math.ceil(xLabels.length / 10));
  xLabels.forEach((label, i) => {
    if (i % every !== 0 && i !== xLabels.length - 1) return;
    chart.append(svg("text", { x: scaleX(i), y: HEIGHT - 8, "text-anchor": "middle" }, label));
  });
}

function xScale(count) {
  const inner = WIDTH - PAD.left - PAD.right;
  if (count <= 1) return () => PAD.left + inner / 2;
  return (i) => PAD.left + 8 + (i / (count - 1)) * (inner - 16);
}

/**
 * One series over learner steps: a line with a dot per step, each dot titled with its values.
 * `points`: [{x: label, y: value, title}].
 */
export function lineChart({ label, points, seriesClass }) {
  const chart = frame(label);
  if (points.length === 0) return chart;
  const [low, high] = yRange(points.map((p) => p.y));
  const scaleX = xScale(points.length);
  const bottom = HEIGHT - PAD.bottom;
  const scaleY = (v) => bottom - ((v - low) / (high - low)) * (bottom - PAD.top);
  axes(chart, [low, high], points.map((p) => p.x), scaleX, number);
  const line = points.map((p, i) => `${i ? "L" : "M"}${scaleX(i)},${scaleY(p.y)}`).join(" ");
  const series = svg("g", { class: `series ${seriesClass}` }, svg("path", { d: line }));
  points.forEach((p, i) => {
    series.append(
      svg("circle", { cx: scaleX(i), cy: scaleY(p.y), r: 3.5 }, svg("title", {}, p.title)),
    );
  });
  chart.append(series);
  return chart;
}

/** Bars from 0 to 1 (e.g. the share of tests passed per round). `bars`: [{x, value, title}]. */
export function fractionChart({ label, bars }) {
  const chart = frame(label);
  if (bars.length === 0) return chart;
  const inner = WIDTH - PAD.left - PAD.right;
  const slot = inner / bars.length;
  const bottom = HEIGHT - PAD.bottom;
  const scaleX = (i) => PAD.left + slot * (i + 0.5);
  axes(chart, [0, 1], bars.map((b) => b.x), scaleX, (v) => `${Math.round(v * 100)}%`);
  const width = Math.max(2, Math.min(40, slot * 0.7));
  bars.forEach((bar, i) => {
    const height = Math.max(bar.value, 0.005) * (bottom - PAD.top);
    chart.append(
      svg(
        "rect",
        { class: "bar", x: scaleX(i) - width / 2, y: bottom - height, width, height },
        svg("title", {}, bar.title),
      ),
    );
  });
  return chart;
}
