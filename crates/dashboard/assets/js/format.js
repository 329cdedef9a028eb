// Formatting and DOM helpers shared by every view. Numbers are formatted for reading at a
// glance (few significant digits, units that scale); DOM is built with createElement only, so
// nothing from the API is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Builds an element: h("div", { class: "x", text: "hi", data: { id: 1 } }, child, "text"). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "data") for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Sets text only when it changed, so an update every second does not touch the layout. */
export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}

/** Sets a data attribute only when it changed (CSS and tests read these). */
export function setData(el, key, value) {
  const v = String(value);
  if (el.dataset[key] !== v) el.dataset[key] = v;
}

/** A number with a unit in a smaller, dimmer span: "12.3" + " ms". */
export function valueWithUnit(el, [value, unit]) {
  const key = `${value}\u0000${unit}`;
  if (el.dataset.shown === key) return;
  el.dataset.shown = key;
  el.replaceChildren(value, unit ? h("span", { class: "unit", text: unit }) : "");
}

/** Requests per second, to three significant digits. */
export function rate(rps) {
  if (rps === null || rps === undefined || Number.isNaN(rps)) return ["—", ""];
  if (rps === 0) return ["0", ""];
  if (rps < 10) return [rps.toFixed(1), ""];
  if (rps < 1000) return [Math.round(rps).toString(), ""];
  if (rps < 1e6) return [(rps / 1000).toFixed(rps < 1e4 ? 2 : 1), "k"];
  return [(rps / 1e6).toFixed(2), "M"];
}

/** Milliseconds, switching to seconds past one. */
export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return ["—", ""];
  if (value < 1) return [value.toFixed(2), "ms"];
  if (value < 10) return [value.toFixed(1), "ms"];
  if (value < 1000) return [Math.round(value).toString(), "ms"];
  return [(value / 1000).toFixed(value < 10000 ? 2 : 1), "s"];
}

/** A share (0..1) as a percentage with enough digits to tell 0.1 % from 0. */
export function percent(share) {
  if (share === null || share === undefined || Number.isNaN(share)) return ["—", ""];
  const p = share * 100;
  if (p === 0) return ["0", "%"];
  if (p < 0.1) return ["<0.1", "%"];
  if (p < 10) return [p.toFixed(1), "%"];
  return [Math.round(p).toString(), "%"];
}

/** Joins a [value, unit] pair for plain text. */
export function joined([value, unit]) {
  if (!unit) return value;
  return unit === "%" || unit === "k" || unit === "M" ? `${value}${unit}` : `${value} ${unit}`;
}

/** Bytes in binary units, like the spec's sizes. */
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A duration in seconds, in its two largest units: "3m 05s", "2h 10m", "4d 1h". */
export function duration(secs) {
  if (secs === null || secs === undefined) return "—";
  const s = Math.floor(secs);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

/** Local wall-clock time, HH:MM:SS. */
export function clock(date) {
  const d = date instanceof Date ? date : new Date(date);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** How long ago, coarsely: "just now", "12s ago", "5m ago". */
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 3) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

// Icons: 24×24 strokes in the style of the common open icon sets, drawn here.
const ICONS = {
  up: ["M12 19V5", "M5 12l7-7 7 7"],
  down: ["M12 5v14", "M19 12l-7 7-7-7"],
  updown: ["M7 4v16", "M3 8l4-4 4 4", "M17 20V4", "M13 16l4 4 4-4"],
  check: ["M20 6L9 17l-5-5"],
  x: ["M18 6L6 18", "M6 6l12 12"],
  play: ["M7 4l13 8-13 8z"],
  square: ["M6 6h12v12H6z"],
  drain: ["M12 3v12", "M7 10l5 5 5-5", "M5 21h14"],
  zap: ["M13 2L4 14h7l-1 8 9-12h-7z"],
  rotate: ["M21 12a9 9 0 1 1-3-6.7", "M21 4v5h-5"],
  alert: ["M12 3L2 20h20z", "M12 10v4", "M12 17.5v.5"],
  heart: ["M20.8 5.6a5.5 5.5 0 0 0-7.8 0L12 6.6l-1-1a5.5 5.5 0 0 0-7.8 7.8l8.8 8.8 8.8-8.8a5.5 5.5 0 0 0 0-7.8z"],
  eject: ["M16 17l5-5-5-5", "M21 12H9", "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"],
  branch: ["M6 3v12", "M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M18 9a9 9 0 0 1-9 9"],
  flag: ["M4 22V4", "M4 4h13l-2 4 2 4H4"],
  pulse: ["M3 12h4l3-8 4 16 3-8h4"],
  file: ["M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z", "M14 3v6h6", "M9 15l2 2 4-4"],
  clock: ["M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z", "M12 7v5l3 2"],
  link: ["M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1", "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"],
  plug: ["M9 2v5", "M15 2v5", "M6 7h12v4a6 6 0 0 1-12 0z", "M12 17v5"],
  dot: ["M12 12h.01"],
};

/** An inline SVG icon by name (see ICONS). */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2.2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name] || ICONS.dot) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
