// The panels around the services: the summary tiles, the load balancer (gateway, routes,
// fail-open, ejected instances) and the event timeline (coloured and iconed by kind).

import { h, setText, setData, valueWithUnit, rate, ms, percent, clock, ago, icon } from "./format.js";
import { countStates, running, tone } from "./services.js";
import { shortListen } from "./tier.js";

/** What an event kind means at a glance: a tone (colour), an icon and a filter group. */
const KINDS = {
  scale_up: { tone: "info", icon: "up", group: "scaling" },
  scale_down: { tone: "info", icon: "down", group: "scaling" },
  scaled: { tone: "info", icon: "updown", group: "scaling" },
  started: { tone: "neutral", icon: "play", group: "health" },
  healthy: { tone: "ok", icon: "check", group: "health" },
  recovered: { tone: "ok", icon: "heart", group: "health" },
  unhealthy: { tone: "bad", icon: "x", group: "health" },
  fail_open: { tone: "bad", icon: "alert", group: "health" },
  ejected: { tone: "warn", icon: "eject", group: "health" },
  crashed: { tone: "bad", icon: "zap", group: "crashes" },
  start_failed: { tone: "bad", icon: "alert", group: "crashes" },
  restarting: { tone: "warn", icon: "rotate", group: "crashes" },
  draining: { tone: "neutral", icon: "drain", group: "health" },
  stopped: { tone: "neutral", icon: "square", group: "health" },
  rollout: { tone: "violet", icon: "branch", group: "rollouts" },
  rollout_failed: { tone: "bad", icon: "x", group: "rollouts" },
  canary: { tone: "violet", icon: "flag", group: "rollouts" },
  analysis: { tone: "violet", icon: "pulse", group: "rollouts" },
  applied: { tone: "violet", icon: "file", group: "rollouts" },
  warning: { tone: "warn", icon: "alert", group: "health" },
  waiting: { tone: "warn", icon: "clock", group: "health" },
  dependencies_ready: { tone: "ok", icon: "link", group: "health" },
  tcp: { tone: "info", icon: "plug", group: "health" },
  removed: { tone: "neutral", icon: "square", group: "rollouts" },
};

/** How an event kind is shown (unknown kinds get a neutral dot). */
export function kindStyle(kind) {
  return KINDS[kind] || { tone: "neutral", icon: "dot", group: "other" };
}

const FILTERS = [
  ["all", "All"],
  ["scaling", "Scaling"],
  ["health", "Health"],
  ["crashes", "Crashes"],
  ["rollouts", "Rollouts"],
];

/** Most events kept in the page (the server keeps 1000). */
const MAX_EVENTS = 500;

/** The six tiles across the top. */
export function renderSummary(status) {
  const services = status.services;
  let healthy = 0;
  let total = 0;
  let desired = 0;
  let rps = 0;
  let errors = 0;
  let worst = null;
  let worstName = "";
  const down = [];
  for (const svc of services) {
    const counts = countStates(svc);
    healthy += counts.healthy;
    total += running(svc);
    desired += svc.desired;
    rps += svc.traffic.rps;
    errors += (svc.traffic.error_rate || 0) * svc.traffic.rps;
    if (svc.traffic.p95_ms !== null && svc.traffic.p95_ms !== undefined && (worst === null || svc.traffic.p95_ms > worst)) {
      worst = svc.traffic.p95_ms;
      worstName = svc.name;
    }
    if (tone(svc) !== "ok") down.push(svc.name);
  }
  const tile = (id) => {
    const el = document.getElementById(id);
    return { el, value: el.querySelector(".tile-value"), sub: el.querySelector(".tile-sub") };
  };

  const s = tile("sum-services");
  valueWithUnit(s.value, [String(services.length), ""]);
  setText(s.sub, down.length ? `attention: ${down.join(", ")}` : "all as desired");
  setData(s.el, "tone", down.length ? "warn" : "");

  const i = tile("sum-instances");
  valueWithUnit(i.value, [String(healthy), `/ ${total}`]);
  setText(i.sub, `desired ${desired}`);
  setData(i.el, "tone", healthy < desired ? "warn" : "ok");
  setData(i.el, "healthy", healthy);
  setData(i.el, "total", total);

  const r = tile("sum-rps");
  valueWithUnit(r.value, rate(rps));
  const listeners = services.filter((svc) => svc.tcp);
  const open = listeners.reduce((n, svc) => n + svc.tcp.open, 0);
  setText(r.sub, listeners.length ? `HTTP · ${open} TCP conn${open === 1 ? "" : "s"} open` : "through the gateway");

  const p = tile("sum-p95");
  valueWithUnit(p.value, ms(worst));
  setText(p.sub, worstName ? `${worstName}` : "no responses this second");

  const e = tile("sum-errors");
  const share = rps > 0 ? errors / rps : null;
  valueWithUnit(e.value, percent(share));
  setText(e.sub, "5xx, weighted by traffic");
  setData(e.el, "tone", share === null ? "" : share >= 0.05 ? "bad" : share > 0 ? "warn" : "ok");

  const o = tile("sum-rollouts");
  const rolling = services.filter((svc) => svc.rollout);
  valueWithUnit(o.value, [String(rolling.length), rolling.length === 1 ? "active" : "active"]);
  setText(
    o.sub,
    rolling.length
      ? rolling.map((svc) => `${svc.name} → rev ${svc.rollout.revision}`).join(", ")
      : "none in progress",
  );
  setData(o.el, "tone", rolling.some((svc) => svc.rollout.phase === "failed" || svc.rollout.phase === "reverting") ? "bad" : "");
}

/** The load balancer panel: gateway address, one row per routed service, ejected instances. */
export function renderLoadBalancer(status) {
  const link = document.getElementById("lb-gateway");
  setText(link, status.gateway || "—");
  if (status.gateway && link.getAttribute("href") !== status.gateway) link.setAttribute("href", status.gateway);

  const tbody = document.getElementById("lb-routes");
  const routed = status.services.filter((svc) => svc.route);
  const listeners = status.services.filter((svc) => svc.tcp);
  const internal = status.services.filter((svc) => !svc.route && !svc.tcp);
  const instances = (svc) => svc.instances.map((i) => [i.state, i.ejected]);
  const key = JSON.stringify([
    routed.map((svc) => [svc.name, svc.route, svc.fail_open, instances(svc), svc.rollout && svc.rollout.canary_weight]),
    listeners.map((svc) => [svc.name, svc.tcp.listen, svc.tcp.open, svc.fail_open, instances(svc), svc.waiting_for]),
  ]);
  if (tbody.dataset.key !== key) {
    tbody.dataset.key = key;
    tbody.replaceChildren(...routed.map(routeRow), ...listeners.map(listenerRow));
    if (routed.length + listeners.length === 0) {
      tbody.append(h("tr", {}, h("td", { colspan: "4", class: "dim", text: "no routed services" })));
    }
  }
  const plural = (n, one) => `${n} ${one}${n === 1 ? "" : "s"}`;
  const parts = [plural(routed.length, "route")];
  if (listeners.length) parts.push(plural(listeners.length, "TCP listener"));
  if (internal.length) parts.push(`${internal.length} internal`);
  setText(document.getElementById("lb-sub"), parts.join(" · "));

  const ejected = [];
  for (const svc of status.services) for (const i of svc.instances) if (i.ejected) ejected.push(i.id);
  const list = document.getElementById("lb-ejected");
  const ekey = ejected.join(",");
  if (list.dataset.key !== ekey) {
    list.dataset.key = ekey;
    list.replaceChildren(...(ejected.length ? ejected.map((id) => h("span", { class: "tag bad mono", text: id })) : ["none"]));
  }
  setData(list, "count", ejected.length);
}

/** The backends cell: one mark per running instance and routable/running. */
function backends(svc) {
  const bar = h("span", { class: "backends-bar" });
  const live = svc.instances.filter((i) => i.state !== "stopped");
  for (const i of live.slice(0, 24)) bar.append(h("i", { data: { state: i.ejected ? "unhealthy" : i.state }, title: `${i.id}: ${i.state}${i.ejected ? " (ejected)" : ""}` }));
  const counts = countStates(svc);
  const routable = svc.fail_open ? counts.unhealthy : counts.healthy;
  return h("td", {}, h("span", { class: "backends" }, bar, h("span", { class: "num", text: `${routable}/${live.length}` })));
}

/** What the gateway can do with a service's traffic now, and its tone; `serving` when fine. */
function routeState(svc, serving) {
  const counts = countStates(svc);
  if (svc.fail_open) return ["fail-open", "bad"];
  if (counts.healthy === 0 && (svc.waiting_for || []).length) return ["waiting", "warn"];
  if (counts.healthy === 0) return svc.desired === 0 ? ["scaled to zero", "idle"] : ["no backends", "bad"];
  if (svc.rollout && svc.rollout.canary_weight !== undefined && svc.rollout.canary_weight !== null) {
    return [`canary ${svc.rollout.canary_weight}%`, "warn"];
  }
  return [serving, "ok"];
}

function stateCell([state, stateTone]) {
  return h("td", {}, h("span", { class: "route-state", data: { tone: stateTone }, text: state }));
}

function routeRow(svc) {
  return h(
    "tr",
    { data: { service: svc.name, failOpen: svc.fail_open ? 1 : 0 } },
    h("td", { class: "route", text: svc.route, title: svc.route }),
    h("td", { text: svc.name }),
    backends(svc),
    stateCell(routeState(svc, "serving")),
  );
}

/** A TCP listener: where clients connect, and how many are connected now. */
function listenerRow(svc) {
  const open = svc.tcp.open;
  return h(
    "tr",
    { data: { service: svc.name, listener: svc.tcp.listen, failOpen: svc.fail_open ? 1 : 0 } },
    h("td", { class: "route", text: `tcp ${shortListen(svc.tcp.listen)}`, title: `TCP listener ${svc.tcp.listen}` }),
    h("td", { text: svc.name }),
    backends(svc),
    stateCell(routeState(svc, `${open} conn${open === 1 ? "" : "s"}`)),
  );
}

/** The event timeline: newest first, filterable by group, times kept fresh. */
export class Timeline {
  constructor() {
    this.list = document.getElementById("events");
    this.empty = document.getElementById("events-empty");
    this.count = document.getElementById("timeline-count");
    this.events = new Map(); // key → { event, el }
    this.filter = "all";
    this.chips = new Map();
    const bar = document.getElementById("timeline-filters");
    for (const [id, label] of FILTERS) {
      const chip = h("button", {
        class: "chip",
        type: "button",
        text: label,
        "aria-pressed": id === this.filter ? "true" : "false",
        data: { filter: id },
        onclick: () => this.setFilter(id),
      });
      this.chips.set(id, chip);
      bar.append(chip);
    }
    this.initial = true;
  }

  setFilter(id) {
    this.filter = id;
    for (const [key, chip] of this.chips) chip.setAttribute("aria-pressed", key === id ? "true" : "false");
    this.applyFilter();
  }

  applyFilter() {
    let shown = 0;
    for (const { event, el } of this.events.values()) {
      const visible = this.filter === "all" || kindStyle(event.kind).group === this.filter;
      el.hidden = !visible;
      if (visible) shown += 1;
    }
    this.empty.hidden = shown > 0;
    setText(this.empty, this.events.size ? "No events of this kind." : "No events yet.");
  }

  /** Adds events (any order, duplicates ignored). */
  add(events) {
    const fresh = [];
    for (const event of events) {
      // seq starts again when shoal restarts: the time tells two runs apart.
      const key = `${event.seq}@${event.time}`;
      if (this.events.has(key)) continue;
      const el = this.item(event);
      if (!this.initial) el.classList.add("fresh");
      this.events.set(key, { event, el });
      fresh.push({ event, el });
    }
    if (fresh.length === 0) return;
    const ordered = [...this.events.values()].sort((a, b) =>
      a.event.time === b.event.time ? b.event.seq - a.event.seq : a.event.time < b.event.time ? 1 : -1,
    );
    for (const old of ordered.slice(MAX_EVENTS)) {
      old.el.remove();
      this.events.delete(`${old.event.seq}@${old.event.time}`);
    }
    const keep = ordered.slice(0, MAX_EVENTS);
    keep.forEach(({ el }, index) => {
      if (this.list.children[index] !== el) this.list.insertBefore(el, this.list.children[index] || null);
    });
    this.initial = false;
    setText(this.count, `${this.events.size} recent`);
    this.applyFilter();
    this.refreshTimes();
  }

  item(event) {
    const style = kindStyle(event.kind);
    const who = event.instance || event.service;
    const time = h("time", { class: "ev-time", datetime: event.time, title: new Date(event.time).toLocaleString() });
    return h(
      "li",
      { class: "ev", data: { kind: event.kind, tone: style.tone, seq: event.seq, service: event.service } },
      h("span", { class: "ev-icon" }, icon(style.icon)),
      h(
        "div",
        { class: "ev-main" },
        h("div", { class: "ev-top" }, h("span", { class: "ev-kind", text: event.kind.replace(/_/g, " ") }), h("span", { class: "ev-who", text: who }), time),
        h("div", { class: "ev-msg", text: event.message }),
      ),
    );
  }

  /** Rewrites "12s ago" labels; called every second. */
  refreshTimes() {
    const now = Date.now();
    for (const { event, el } of this.events.values()) {
      const time = el.querySelector(".ev-time");
      const at = Date.parse(event.time);
      setText(time, now - at < 3600 * 1000 ? `${clock(at)} · ${ago(now - at)}` : clock(at));
    }
  }
}
