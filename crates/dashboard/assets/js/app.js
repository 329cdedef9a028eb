// The dashboard's entry point: follows /v1/stream, keeps 15 minutes of per-service history for
// the charts, and hands each status to the views. Read-only until an admin token is given;
// then the scale buttons appear and API errors are shown as they come back.

import { h, setText, clock, ago } from "./format.js";
import { Stream, getToken, setToken, scale } from "./stream.js";
import { WINDOW_MS } from "./charts.js";
import { ServiceView, countStates } from "./services.js";
import { tcpReading } from "./tier.js";
import { renderSummary, renderLoadBalancer, Timeline } from "./panels.js";

const HISTORY_KEY = "shoal.history";
/** Samples kept per service: the chart window plus a little slack. */
const HISTORY_MAX = Math.ceil(WINDOW_MS / 1000) + 30;

const state = {
  status: null,
  lastStatusAt: 0,
  views: new Map(), // service name → ServiceView
  history: loadHistory(), // service name → [{ t, rps, p95, p99, healthy, total, desired, conns, … }]
  tcp: new Map(), // service name → the last reading of its TCP counters, with rates (tier.js)
  timeline: null,
};

function $(id) {
  return document.getElementById(id);
}

// ---------- history (survives a reload of the tab) ----------

function loadHistory() {
  const history = new Map();
  try {
    const saved = JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "null");
    if (saved && saved.origin === location.origin) {
      const oldest = Date.now() - WINDOW_MS;
      for (const [name, samples] of Object.entries(saved.services || {})) {
        if (Array.isArray(samples)) history.set(name, samples.filter((s) => s && s.t >= oldest));
      }
    }
  } catch {
    // Nothing saved, or unreadable: start empty.
  }
  return history;
}

function saveHistory() {
  try {
    const services = Object.fromEntries(state.history);
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify({ origin: location.origin, services }));
  } catch {
    // Storage full or disabled: the charts start empty next time.
  }
}

function record(status, now) {
  for (const svc of status.services) {
    let samples = state.history.get(svc.name);
    if (!samples) {
      samples = [];
      state.history.set(svc.name, samples);
    }
    const counts = countStates(svc);
    samples.push({
      t: now,
      rps: svc.traffic.rps,
      p95: svc.traffic.p95_ms ?? null,
      p99: svc.traffic.p99_ms ?? null,
      healthy: counts.healthy,
      total: svc.instances.filter((i) => i.state !== "stopped").length,
      desired: svc.desired,
      ...recordTcp(svc, now),
    });
    if (samples.length > HISTORY_MAX) samples.splice(0, samples.length - HISTORY_MAX);
  }
  const names = new Set(status.services.map((s) => s.name));
  for (const name of state.history.keys()) if (!names.has(name)) state.history.delete(name);
  for (const name of state.tcp.keys()) if (!names.has(name)) state.tcp.delete(name);
}

/** Takes a new reading of a service's TCP counters; returns what its charts plot (the same keys
 * as shoal's own samples in /v1/history, which fill these charts for a tab opened now). */
function recordTcp(svc, now) {
  if (!svc.tcp) {
    state.tcp.delete(svc.name);
    return {};
  }
  const reading = tcpReading(state.tcp.get(svc.name), svc.tcp, now);
  state.tcp.set(svc.name, reading);
  const r = reading.rates;
  return { conns: svc.tcp.open, accepts: r ? r.accepted : null, bin: r ? r.bytes_in : null, bout: r ? r.bytes_out : null };
}

/**
 * Seeds the charts with shoal's own record of the last 15 minutes, so a tab opened now shows
 * full charts at once. Samples this tab recorded itself after the newest server sample stay.
 */
async function loadServerHistory() {
  let body;
  try {
    const response = await fetch("/v1/history", { cache: "no-store" });
    if (!response.ok) return;
    body = await response.json();
  } catch {
    return; // An older shoal, or unreachable: the tab's own history stays.
  }
  const oldest = Date.now() - WINDOW_MS;
  for (const [name, samples] of Object.entries(body.services || {})) {
    if (!Array.isArray(samples) || samples.length === 0) continue;
    const last = samples[samples.length - 1].t;
    const mine = (state.history.get(name) || []).filter((s) => s.t > last);
    const merged = samples.filter((s) => s.t >= oldest).concat(mine);
    state.history.set(name, merged.slice(-HISTORY_MAX));
  }
  if (state.status) render(state.status, Date.now());
}

// ---------- rendering ----------

function onStatus(status) {
  const now = Date.now();
  state.status = status;
  state.lastStatusAt = now;
  record(status, now);
  // A hidden tab keeps recording but does not draw; it catches up when shown.
  if (!document.hidden) render(status, now);
}

function render(status, now) {
  const where = $("gateway-link");
  setText(where, status.gateway ? status.gateway.replace(/^https?:\/\//, "") : "—");
  if (status.gateway && where.getAttribute("href") !== status.gateway) where.setAttribute("href", status.gateway);
  setText($("admin-addr"), location.host);
  setText($("data-dir"), status.data_dir || "—");
  $("data-dir").title = status.data_dir || "";

  renderServices(status, now);
  renderSummary(status);
  renderLoadBalancer(status);

  const healthy = status.services.reduce((n, s) => n + countStates(s).healthy, 0);
  const total = status.services.reduce((n, s) => n + s.instances.filter((i) => i.state !== "stopped").length, 0);
  document.title = `shoal · ${healthy}/${total} healthy`;
  document.body.dataset.ready = "1";
  document.body.dataset.healthy = String(healthy);
  document.body.dataset.total = String(total);
}

function renderServices(status, now) {
  const container = $("services");
  $("services-empty").hidden = status.services.length > 0;
  setText($("services-empty"), "No services in the spec.");
  const seen = new Set();
  status.services.forEach((svc, index) => {
    seen.add(svc.name);
    let view = state.views.get(svc.name);
    if (!view) {
      view = new ServiceView(svc.name, { scale: scaleService });
      state.views.set(svc.name, view);
    }
    const at = container.children[index + 1] || null; // after the "empty" placeholder
    if (view.el.parentNode !== container || container.children[index + 1] !== view.el) {
      container.insertBefore(view.el, at);
    }
    view.update(svc, state.history.get(svc.name) || [], now, state.tcp.get(svc.name));
  });
  for (const [name, view] of state.views) {
    if (!seen.has(name)) {
      view.dispose();
      state.views.delete(name);
    }
  }
}

/** Redraws the charts' time axis between statuses, so a stalled stream visibly stalls. */
function tick() {
  if (!state.status) return;
  const now = Date.now();
  if (now - state.lastStatusAt > 1500) {
    for (const [name, view] of state.views) {
      view.drawCharts(state.history.get(name) || [], now);
    }
  }
  state.timeline.refreshTimes();
}

// ---------- connection state ----------

function onState(kind, detail) {
  const conn = $("conn");
  conn.dataset.state = kind;
  const banner = $("banner");
  if (kind === "live") {
    setText($("conn-text"), "live");
    conn.title = "receiving /v1/stream";
    banner.hidden = true;
    document.body.classList.remove("stale");
  } else if (kind === "connecting") {
    setText($("conn-text"), "connecting…");
  } else {
    const gone = detail.since ? Date.now() - detail.since : 0;
    const since = gone >= 3000 ? ` for ${ago(gone).replace(" ago", "")}` : "";
    setText($("conn-text"), `disconnected${since}, retrying`);
    conn.title = detail.reason || "";
    const last = state.lastStatusAt ? ` Showing data from ${clock(state.lastStatusAt)}.` : "";
    setText($("banner-text"), `Lost the connection to shoal at ${location.host} (${detail.reason || "no answer"}).${last} Retrying…`);
    banner.hidden = false;
    document.body.classList.add("stale");
    if (!document.title.startsWith("⚠")) document.title = `⚠ ${document.title}`;
  }
}

// ---------- admin token and scaling ----------

function renderAuth() {
  const admin = getToken() !== "";
  $("auth").dataset.mode = admin ? "admin" : "read-only";
  document.body.classList.toggle("admin", admin);
}

function setupAuth() {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("token-input");
    const token = input.value.trim();
    if (!token) {
      input.focus();
      return;
    }
    setToken(token);
    input.value = "";
    renderAuth();
    toast("ok", "Unlocked", "Scaling is on. The token stays in this tab (sessionStorage).");
  });
  $("token-clear").addEventListener("click", () => {
    setToken("");
    renderAuth();
  });
  renderAuth();
}

async function scaleService(name, delta, button) {
  const token = getToken();
  if (!token) return;
  button.disabled = true;
  button.classList.add("busy");
  const result = await scale(name, delta, token);
  button.classList.remove("busy");
  button.disabled = false;
  const what = `Scale ${name} ${delta > 0 ? "+" : ""}${delta}`;
  if (result.ok) {
    const { from, to } = result.body || {};
    toast("ok", `${name}: desired ${from} → ${to}`);
    return;
  }
  const code = result.status ? ` (HTTP ${result.status})` : "";
  let hint = result.hint;
  if (result.status === 401) {
    hint = "The token was refused: check <data_dir>/token and unlock again.";
    setToken("");
    renderAuth();
  }
  toast("error", `${what} failed${code}`, result.error, hint);
}

/** A message in the corner: `kind` "ok" (fades) or "error" (stays until closed). */
function toast(kind, title, body, hint, lifetime) {
  const close = h("button", { class: "toast-close", type: "button", "aria-label": "dismiss", text: "×" });
  const el = h(
    "div",
    { class: "toast", data: { kind }, role: kind === "error" ? "alert" : "status" },
    h("div", { class: "toast-title", text: title }),
    close,
    body ? h("div", { class: "toast-body", text: body }) : null,
    hint ? h("div", { class: "toast-hint", text: hint }) : null,
  );
  close.addEventListener("click", () => el.remove());
  const box = $("toasts");
  box.append(el);
  while (box.children.length > 4) box.firstChild.remove();
  const ttl = lifetime ?? (kind === "error" ? 20000 : 5000);
  setTimeout(() => el.remove(), ttl);
}

// ---------- start ----------

function start() {
  state.timeline = new Timeline();
  setupAuth();
  const stream = new Stream({
    onStatus,
    onEvents: (events) => state.timeline.add(events),
    onState,
  });
  stream.start();
  loadServerHistory();
  setInterval(tick, 1000);
  window.addEventListener("pagehide", saveHistory);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.status) render(state.status, Date.now());
  });
  setInterval(saveHistory, 15000);
}

start();
