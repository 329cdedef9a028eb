// Small time-series charts on <canvas>: the last 15 minutes, one sample a second, a few series
// per chart, a hover crosshair with the values at that moment. Drawn here (no library) and
// sharp on high-density screens.

import { h, setText, clock } from "./format.js";

/** The longest window a chart shows (and the history the page keeps). */
export const WINDOW_MS = 15 * 60 * 1000;
/** The shortest: a page opened a moment ago shows its first minute legibly, and the window
 * widens with the history until it spans 15 minutes. */
const MIN_WINDOW_MS = 60 * 1000;
/** Label spacings for the time axis, the first that gives at most four labels wins. */
const TIME_STEPS = [10, 15, 30, 60, 120, 300].map((s) => s * 1000);
/** Samples further apart than this (a disconnection) are not joined by a line. */
const GAP_MS = 3500;
const PAD = { left: 42, right: 8, top: 8, bottom: 18 };

const colorCache = new Map();
function cssColor(name) {
  if (!colorCache.has(name)) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    colorCache.set(name, value || "#888");
  }
  return colorCache.get(name);
}

function withAlpha(color, alpha) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** A step of 1, 2 or 5 × 10^n that cuts `span` into about `parts` pieces. */
function niceStep(span, parts, integer) {
  const raw = span / parts;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Index of the sample nearest to time `t` (samples sorted by time). */
function nearest(samples, t) {
  let lo = 0;
  let hi = samples.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(samples[lo - 1].t - t) < Math.abs(samples[lo].t - t)) return lo - 1;
  return lo;
}

/**
 * One chart. `options`: title; series [{ key, label, color: "--css-var", fill, step, dashed, thin }];
 * format(value) → text for legend and tooltip; tick(value) → short axis label; integer (whole
 * numbers only on the axis); floor (smallest top of the axis, so quiet data is not magnified).
 */
export class TimeChart {
  constructor(options) {
    this.options = options;
    this.samples = [];
    this.now = Date.now();
    this.hoverX = null;
    this.legend = new Map();
    const legend = h("div", { class: "chart-legend" });
    for (const s of options.series) {
      const value = h("b", { text: "—" });
      const swatch = h("span", { class: s.dashed ? "swatch dashed" : "swatch" });
      if (s.dashed) swatch.style.borderTopColor = cssColor(s.color);
      else swatch.style.background = cssColor(s.color);
      legend.append(h("span", {}, swatch, `${s.label} `, value));
      this.legend.set(s.key, value);
    }
    this.canvas = h("canvas", { "aria-hidden": "true" });
    this.tip = h("div", { class: "chart-tip", hidden: true });
    this.plot = h("div", { class: "chart-plot" }, this.canvas, this.tip);
    this.el = h(
      "div",
      { class: "chart", data: { chart: options.id || "" } },
      h(
        "div",
        { class: "chart-head" },
        h("span", { class: "chart-title", text: options.title }),
        (this.span = h("span", { class: "chart-window" })),
      ),
      this.plot,
      legend,
    );
    this.plot.addEventListener("mousemove", (e) => {
      const rect = this.plot.getBoundingClientRect();
      this.hoverX = e.clientX - rect.left;
      this.draw();
    });
    this.plot.addEventListener("mouseleave", () => {
      this.hoverX = null;
      this.tip.hidden = true;
      this.draw();
    });
    if (typeof ResizeObserver !== "undefined") {
      this.resizer = new ResizeObserver(() => this.draw());
      this.resizer.observe(this.plot);
    }
  }

  /** New data: `samples` sorted by time `t` (ms), `now` the right edge. */
  update(samples, now) {
    this.samples = samples;
    this.now = now;
    const last = samples[samples.length - 1];
    for (const s of this.options.series) {
      const v = last ? last[s.key] : null;
      setText(this.legend.get(s.key), v === null || v === undefined ? "—" : this.options.format(v));
    }
    this.draw();
  }

  /** Stops observing the element (the service went away). */
  dispose() {
    if (this.resizer) this.resizer.disconnect();
  }

  draw() {
    const width = this.plot.clientWidth;
    const height = this.plot.clientHeight;
    if (width === 0 || height === 0) return;
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * dpr) || this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const t1 = this.now;
    const span = this.window();
    const t0 = t1 - span;
    setText(this.span, `last ${Math.round(span / 60000)}m`);
    const visible = this.samples.filter((s) => s.t >= t0 - GAP_MS);
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const x = (t) => PAD.left + ((t - t0) / span) * plotW;

    let max = 0;
    for (const s of visible) {
      for (const series of this.options.series) {
        const v = s[series.key];
        if (typeof v === "number" && v > max) max = v;
      }
    }
    // Headroom above the highest value: 15 %, or one whole instance for counts.
    const integer = !!this.options.integer;
    const top = Math.max(integer ? max + 1 : max * 1.15, this.options.floor || 1);
    const step = niceStep(top, 3, integer);
    const yMax = Math.ceil(top / step) * step;
    const y = (v) => PAD.top + (1 - v / yMax) * plotH;

    this.drawAxes(ctx, { t0, t1, span, x, y, yMax, step, width });
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, 0, plotW, height);
    ctx.clip();
    for (const series of this.options.series) this.drawSeries(ctx, visible, series, x, y);
    ctx.restore();

    ctx.fillStyle = cssColor("--faint");
    ctx.font = "11.5px " + cssColor("--sans");
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    if (visible.length === 0) {
      ctx.fillText("waiting for data…", PAD.left + plotW / 2, PAD.top + plotH / 2);
    } else if (x(visible[0].t) - PAD.left > 150) {
      // The page keeps history only from when it opened: say so rather than look broken.
      const gapMid = PAD.left + (x(visible[0].t) - PAD.left) / 2;
      const label = `history from ${clock(visible[0].t)}`;
      const w = ctx.measureText(label).width + 12;
      ctx.fillStyle = cssColor("--bg-2");
      ctx.fillRect(gapMid - w / 2, PAD.top + plotH / 2 - 8, w, 16);
      ctx.fillStyle = cssColor("--faint");
      ctx.fillText(label, gapMid, PAD.top + plotH / 2);
    }
    this.drawHover(ctx, visible, x, y, width);
  }

  /** The time span shown: the history so far, between one and fifteen minutes. */
  window() {
    const first = this.samples.length ? this.samples[0].t : this.now;
    const had = this.now - first;
    // Whole minutes, so the axis does not crawl every second.
    const span = Math.ceil((had + 5000) / 60000) * 60000;
    return Math.min(WINDOW_MS, Math.max(MIN_WINDOW_MS, span));
  }

  drawAxes(ctx, { t0, t1, span, x, y, yMax, step, width }) {
    ctx.font = "10.5px " + cssColor("--sans");
    ctx.lineWidth = 1;
    ctx.strokeStyle = cssColor("--grid");
    ctx.fillStyle = cssColor("--faint");
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = 0; v <= yMax + step / 2; v += step) {
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.left, py);
      ctx.lineTo(width - PAD.right, py);
      ctx.stroke();
      ctx.fillText(this.options.tick(v), PAD.left - 7, py);
    }
    // Wall-clock labels at round times, at most four across.
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    const every = TIME_STEPS.find((s) => span / s <= 4) || TIME_STEPS[TIME_STEPS.length - 1];
    for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) {
      const px = x(t);
      if (px < PAD.left + 18 || px > width - PAD.right - 18) continue;
      ctx.fillText(every < 60000 ? clock(t) : clock(t).slice(0, 5), px, y(0) + 14);
      ctx.beginPath();
      ctx.moveTo(Math.round(px) + 0.5, y(0));
      ctx.lineTo(Math.round(px) + 0.5, y(0) + 3);
      ctx.stroke();
    }
  }

  /** Runs of consecutive samples with a value, split at gaps. */
  runs(samples, key) {
    const runs = [];
    let run = [];
    let prev = null;
    for (const s of samples) {
      const v = s[key];
      if (typeof v !== "number" || (prev && s.t - prev.t > GAP_MS)) {
        if (run.length) runs.push(run);
        run = [];
      }
      if (typeof v === "number") run.push(s);
      prev = s;
    }
    if (run.length) runs.push(run);
    return runs;
  }

  drawSeries(ctx, samples, series, x, y) {
    const color = cssColor(series.color);
    for (const run of this.runs(samples, series.key)) {
      const path = new Path2D();
      let prevY = null;
      run.forEach((s, i) => {
        const px = x(s.t);
        const py = y(s[series.key]);
        if (i === 0) path.moveTo(px, py);
        else if (series.step) {
          path.lineTo(px, prevY);
          path.lineTo(px, py);
        } else path.lineTo(px, py);
        prevY = py;
      });
      if (run.length === 1) {
        // A single sample: a short tick so it is visible.
        const px = x(run[0].t);
        path.lineTo(px + 2, y(run[0][series.key]));
      }
      if (series.fill) {
        const area = new Path2D(path);
        area.lineTo(x(run[run.length - 1].t), y(0));
        area.lineTo(x(run[0].t), y(0));
        area.closePath();
        const gradient = ctx.createLinearGradient(0, y(0) - 100, 0, y(0));
        gradient.addColorStop(0, withAlpha(color, 0.28));
        gradient.addColorStop(1, withAlpha(color, 0.02));
        ctx.fillStyle = gradient;
        ctx.fill(area);
      }
      ctx.strokeStyle = series.thin ? withAlpha(color, 0.75) : color;
      ctx.lineWidth = series.dashed || series.thin ? 1.2 : 1.7;
      ctx.lineJoin = "round";
      ctx.setLineDash(series.dashed ? [4, 4] : []);
      ctx.stroke(path);
      ctx.setLineDash([]);
    }
  }

  drawHover(ctx, samples, x, y, width) {
    if (this.hoverX === null || samples.length === 0 || this.hoverX < PAD.left) {
      this.tip.hidden = true;
      return;
    }
    const plotW = width - PAD.left - PAD.right;
    const span = this.window();
    const t = this.now - span + ((this.hoverX - PAD.left) / plotW) * span;
    const sample = samples[nearest(samples, t)];
    if (!sample || Math.abs(sample.t - t) > 10000) {
      this.tip.hidden = true;
      return;
    }
    const px = Math.round(x(sample.t)) + 0.5;
    ctx.strokeStyle = cssColor("--muted");
    ctx.globalAlpha = 0.5;
    ctx.beginPath();
    ctx.moveTo(px, PAD.top);
    ctx.lineTo(px, y(0));
    ctx.stroke();
    ctx.globalAlpha = 1;
    const rows = [h("div", { class: "tip-time", text: clock(sample.t) })];
    for (const series of this.options.series) {
      const v = sample[series.key];
      if (typeof v !== "number") continue;
      ctx.fillStyle = cssColor(series.color);
      ctx.beginPath();
      ctx.arc(px, y(v), 3, 0, Math.PI * 2);
      ctx.fill();
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = cssColor(series.color);
      rows.push(h("div", {}, swatch, `${series.label} `, h("b", { text: this.options.format(v) })));
    }
    this.tip.replaceChildren(...rows);
    this.tip.hidden = false;
    const tipW = this.tip.offsetWidth;
    const left = px + 12 + tipW > width ? px - 12 - tipW : px + 12;
    this.tip.style.left = `${Math.max(0, left)}px`;
  }
}
