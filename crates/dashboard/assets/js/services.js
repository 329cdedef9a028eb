// One card per service: health and counts, traffic, the rollout in progress, charts of the last
// 15 minutes, and the instance table. Built once, then updated in place every second (keyed by
// instance id), so hovering, selecting text or a half-typed token survive the updates.

import { h, setText, setData, valueWithUnit, rate, ms, percent, joined, bytes, duration, clock } from "./format.js";
import { TimeChart } from "./charts.js";
import { TierView, tcpOnly, shortPath, words, byteRate } from "./tier.js";

const STATES = ["healthy", "starting", "unhealthy", "draining", "stopped"];
/** Past this many slots the capacity strip would wrap into noise. */
const MAX_SLOTS = 40;

/** Counts of a service's instances by state. */
export function countStates(svc) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const i of svc.instances) counts[i.state] = (counts[i.state] || 0) + 1;
  return counts;
}

/** Instances that are running (not stopped): what "total" means on the card. */
export function running(svc) {
  return svc.instances.filter((i) => i.state !== "stopped").length;
}

/** ok / warn / bad for a service, as its dot and the summary show it. */
export function tone(svc) {
  const counts = countStates(svc);
  // Holding back until its dependencies are healthy is the spec working, not an outage.
  if ((svc.waiting_for || []).length > 0 && counts.healthy === 0) return "warn";
  if (svc.fail_open || (svc.desired > 0 && counts.healthy === 0)) return "bad";
  if (svc.rollout && (svc.rollout.phase === "failed" || svc.rollout.phase === "reverting")) return "bad";
  if (counts.healthy < svc.desired || counts.unhealthy > 0) return "warn";
  if ((svc.traffic.error_rate || 0) >= 0.05) return "warn";
  return "ok";
}

function stat(label) {
  const value = h("div", { class: "stat-value" });
  const sub = h("div", { class: "stat-sub" });
  const el = h("div", { class: "stat" }, h("div", { class: "stat-label", text: label }), value, sub);
  return { el, value, sub };
}

/** The charts of a card: HTTP traffic, or for a service reached only over TCP its connections
 * and bytes; instances either way. */
function charts() {
  const count = (v) => String(Math.round(v));
  return {
    rps: new TimeChart({
      id: "rps",
      title: "Requests / s",
      series: [{ key: "rps", label: "req/s", color: "--c-rps", fill: true }],
      format: (v) => joined(rate(v)),
      tick: (v) => joined(rate(v)),
      floor: 1,
    }),
    latency: new TimeChart({
      id: "latency",
      title: "Latency",
      series: [
        { key: "p95", label: "p95", color: "--c-p95", fill: true },
        { key: "p99", label: "p99", color: "--c-p99", thin: true },
      ],
      format: (v) => joined(ms(v)),
      tick: (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${+v.toFixed(1)}ms`),
      floor: 1,
    }),
    conns: new TimeChart({
      id: "conns",
      title: "TCP connections",
      series: [
        { key: "conns", label: "open", color: "--c-rps", fill: true, step: true },
        { key: "accepts", label: "accepted/s", color: "--c-inst", thin: true },
      ],
      format: (v) => (Number.isInteger(v) ? count(v) : joined(rate(v))),
      tick: count,
      integer: true,
      floor: 1,
    }),
    bytes: new TimeChart({
      id: "bytes",
      title: "TCP throughput",
      series: [
        { key: "bin", label: "in", color: "--c-p95", fill: true },
        { key: "bout", label: "out", color: "--c-p99", thin: true },
      ],
      format: byteRate,
      tick: (v) => (v < 1000 ? `${v}B` : v < 1e6 ? `${+(v / 1000).toFixed(1)}k` : `${+(v / 1e6).toFixed(1)}M`),
      floor: 1024,
    }),
    instances: new TimeChart({
      id: "instances",
      title: "Instances",
      series: [
        { key: "healthy", label: "healthy", color: "--ok", fill: true, step: true },
        { key: "total", label: "running", color: "--c-inst", step: true },
        { key: "desired", label: "desired", color: "--c-desired", step: true, dashed: true },
      ],
      format: count,
      tick: (v) => String(v),
      integer: true,
      floor: 1,
    }),
  };
}

/** The instance table's columns: [key, heading, class, tooltip]. `col-http` columns show only
 * for services with HTTP traffic, `col-tcp` for those with a TCP listener, `col-vol` for
 * stateful ones (the table's data attributes say which apply). */
const COLUMNS = [
  ["id", "Instance", "id"],
  ["revision", "Rev", "r"],
  ["state", "State", ""],
  ["port", "Port", "r"],
  ["pid", "PID", "r"],
  ["cpu", "CPU", "r", "percent of resources.cpu over the last second"],
  ["memory", "Memory", "r"],
  ["inflight", "In-flight", "r col-http", "requests in flight through the gateway"],
  ["requests", "Requests", "r col-http", "requests through the gateway since it became routable"],
  ["latency", "Latency", "r col-http", "the gateway's latency estimate (EWMA)"],
  ["conns", "Conns", "r col-tcp", "TCP connections open to it through the gateway's listener"],
  ["restarts", "Restarts", "r"],
  ["uptime", "Uptime", "r"],
  ["volume", "Volume", "vol col-vol", "its persistent directory (kept across restarts and rollouts)"],
];

/** A card for one service. `actions.scale(name, delta, button)` runs a scale request. */
export class ServiceView {
  constructor(name, actions) {
    this.name = name;
    this.rows = new Map();
    this.tier = new TierView(name);
    this.instancesStat = stat("Instances healthy");
    this.slots = h("div", { class: "slots", "aria-hidden": "true" });
    this.instancesStat.el.insertBefore(this.slots, this.instancesStat.sub);
    this.rpsStat = stat("Requests / s");
    this.latencyStat = stat("Latency p95");
    this.errorStat = stat("Error rate");
    this.httpStats = [this.rpsStat.el, this.latencyStat.el, this.errorStat.el];
    this.rollout = new RolloutView();
    this.charts = charts();
    this.tbody = h("tbody");
    this.noInstances = h("td", { class: "dim none", colspan: String(COLUMNS.length) });
    this.noRow = h("tr", { class: "no-instances" }, this.noInstances);
    this.table = h(
      "table",
      { class: "instances" },
      h("thead", {}, h("tr", {}, COLUMNS.map(([, text, cls, title]) => h("th", { class: cls, text, title })))),
      this.tbody,
    );
    this.el = h(
      "section",
      { class: "svc card", data: { service: name }, "aria-label": `service ${name}` },
      this.head(name, actions),
      h("div", { class: "stats" }, this.instancesStat.el, this.httpStats, this.tier.stats),
      this.rollout.el,
      h("div", { class: "charts" }, Object.values(this.charts).map((c) => c.el)),
      h("div", { class: "table-wrap" }, this.table),
    );
  }

  /** The title row: health, name, how it is reached, badges, and the scale buttons. */
  head(name, actions) {
    this.dot = h("span", { class: "health-dot" });
    this.route = h("span", { class: "tag mono", title: "route (host + path prefix) at the gateway", hidden: true });
    this.revision = h("span", { class: "tag", title: "the revision the service runs" });
    this.autoscaled = h("span", { class: "tag accent", text: "autoscaled", hidden: true });
    this.rolloutTag = h("span", { class: "tag violet", hidden: true, title: "a rollout is in progress" });
    this.failOpen = h("span", {
      class: "tag bad",
      text: "fail-open",
      hidden: true,
      title: "no healthy instance: the gateway routes to unhealthy ones",
    });
    this.desiredLabel = h("b");
    const button = (delta, action, text) => {
      const what = `scale ${name} ${delta > 0 ? "up" : "down"} by one`;
      const b = h("button", { class: "btn icon", type: "button", title: what, "aria-label": what, data: { action }, text });
      b.addEventListener("click", () => actions.scale(name, delta, b));
      return b;
    };
    this.minus = button(-1, "scale-down", "−");
    this.plus = button(1, "scale-up", "+");
    const [tcp, ...badges] = this.tier.head;
    return h(
      "header",
      { class: "svc-head" },
      h(
        "div",
        { class: "svc-title" },
        this.dot,
        h("h2", { text: name }),
        this.route,
        tcp,
        this.revision,
        this.autoscaled,
        this.rolloutTag,
        this.failOpen,
        badges,
      ),
      h("div", { class: "scale" }, this.minus, h("span", { class: "scale-label" }, "desired ", this.desiredLabel), this.plus),
    );
  }

  /** Shows `svc` (one service of /v1/status), its history (samples, oldest first) and the last
   * reading of its TCP counters (rates; see tier.js). */
  update(svc, history, now, tcpReading) {
    const counts = countStates(svc);
    const total = running(svc);
    const look = tone(svc);
    setData(this.el, "healthy", counts.healthy);
    setData(this.el, "total", total);
    setData(this.el, "desired", svc.desired);
    setData(this.el, "tone", look);
    setData(this.el, "waiting", (svc.waiting_for || []).length > 0 ? 1 : 0);
    setData(this.dot, "tone", look);
    this.dot.title = { ok: "all desired instances healthy", warn: "degraded", bad: "down" }[look];
    this.route.hidden = !svc.route;
    setText(this.route, svc.route || "");
    this.tier.update(svc, tcpReading);
    this.updateBadges(svc);
    this.updateInstanceStat(svc, counts, total);
    const http = !tcpOnly(svc);
    for (const el of this.httpStats) el.hidden = !http;
    if (http) this.updateTraffic(svc.traffic);
    this.rollout.update(svc);
    const shown = http ? ["rps", "latency", "instances"] : ["conns", "bytes", "instances"];
    for (const [key, chart] of Object.entries(this.charts)) chart.el.hidden = !shown.includes(key);
    this.drawCharts(history, now);
    setData(this.table, "http", http ? 1 : 0);
    setData(this.table, "tcp", svc.tcp ? 1 : 0);
    setData(this.table, "stateful", svc.volumes ? 1 : 0);
    this.updateInstances(svc);
  }

  /** Redraws the shown charts. shoal's own history has no TCP samples, so the TCP charts span
   * only what this tab recorded (and say from when) rather than look empty. */
  drawCharts(history, now) {
    let tcp = null;
    for (const [key, chart] of Object.entries(this.charts)) {
      if (chart.el.hidden) continue;
      if (key === "conns" || key === "bytes") {
        tcp = tcp || history.filter((s) => typeof s.conns === "number");
        chart.update(tcp, now);
      } else {
        chart.update(history, now);
      }
    }
  }

  updateBadges(svc) {
    setText(this.revision, `rev ${svc.revision}`);
    this.autoscaled.hidden = !svc.autoscaled;
    this.failOpen.hidden = !svc.fail_open;
    const r = svc.rollout;
    this.rolloutTag.hidden = !r;
    if (r) {
      const weight = r.canary_weight !== undefined && r.canary_weight !== null ? ` · ${r.canary_weight}%` : "";
      setText(this.rolloutTag, `${r.strategy} → rev ${r.revision}${weight}`);
      this.rolloutTag.className = r.phase === "failed" || r.phase === "reverting" ? "tag bad" : "tag violet";
    }
    setText(this.desiredLabel, svc.desired);
    this.minus.disabled = svc.desired <= svc.min;
    this.plus.disabled = svc.desired >= svc.max;
  }

  /** Healthy / running, the capacity strip, desired and bounds; amber rather than red while it
   * waits for its dependencies. */
  updateInstanceStat(svc, counts, total) {
    const iv = this.instancesStat;
    const waiting = svc.waiting_for || [];
    valueWithUnit(iv.value, [String(counts.healthy), `/ ${total}`]);
    const low = counts.healthy === 0 && svc.desired > 0;
    setData(iv.el, "tone", low && waiting.length === 0 ? "bad" : counts.healthy < svc.desired ? "warn" : "ok");
    const extra = STATES.filter((s) => s !== "healthy" && s !== "stopped" && counts[s] > 0)
      .map((s) => `${counts[s]} ${s}`)
      .join(" · ");
    setText(iv.sub, `desired ${svc.desired} · range ${svc.min}–${svc.max}${extra ? " · " + extra : ""}`);
    this.updateSlots(svc);
  }

  updateTraffic(t) {
    valueWithUnit(this.rpsStat.value, rate(t.rps));
    setText(this.rpsStat.sub, `in-flight ${t.inflight.toFixed(1)}`);
    valueWithUnit(this.latencyStat.value, ms(t.p95_ms));
    setText(this.latencyStat.sub, `p50 ${joined(ms(t.p50_ms))} · p99 ${joined(ms(t.p99_ms))}`);
    valueWithUnit(this.errorStat.value, percent(t.error_rate));
    setData(this.errorStat.el, "tone", (t.error_rate || 0) >= 0.05 ? "bad" : (t.error_rate || 0) > 0 ? "warn" : "ok");
    setText(this.errorStat.sub, t.error_rate === null || t.error_rate === undefined ? "no responses this second" : "5xx share of responses");
  }

  updateSlots(svc) {
    const cells = Math.min(Math.max(svc.max, svc.instances.length), MAX_SLOTS);
    while (this.slots.children.length < cells) this.slots.append(h("span", { class: "slot" }));
    while (this.slots.children.length > cells) this.slots.lastChild.remove();
    const order = [...svc.instances].sort((a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state));
    for (let i = 0; i < cells; i += 1) {
      const cell = this.slots.children[i];
      setData(cell, "state", order[i] ? order[i].state : "none");
      setData(cell, "want", i < svc.desired ? 1 : 0);
      setData(cell, "min", i < svc.min ? 1 : 0);
    }
  }

  updateInstances(svc) {
    const waiting = svc.waiting_for || [];
    if (svc.instances.length === 0) {
      const why = waiting.length ? `No instance yet: it starts once ${words(waiting)} ${waiting.length > 1 ? "are" : "is"} healthy.` : "No instances.";
      setText(this.noInstances, why);
      if (this.noRow.parentNode !== this.tbody) this.tbody.append(this.noRow);
    } else {
      this.noRow.remove();
    }
    const seen = new Set();
    svc.instances.forEach((inst, index) => {
      seen.add(inst.id);
      let row = this.rows.get(inst.id);
      if (!row) {
        row = new InstanceRow(inst.id);
        this.rows.set(inst.id, row);
      }
      if (this.tbody.children[index] !== row.el) this.tbody.insertBefore(row.el, this.tbody.children[index] || null);
      row.update(inst);
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
  }

  dispose() {
    for (const chart of Object.values(this.charts)) chart.dispose();
    this.el.remove();
  }
}

/** One row of the instance table. */
class InstanceRow {
  constructor(id) {
    this.cells = Object.fromEntries(COLUMNS.map(([key, , cls]) => [key, h("td", { class: cls })]));
    this.cells.id.textContent = id;
    this.pill = h("span", { class: "pill" });
    this.ejected = h("span", { class: "tag bad ejected-mark", text: "ejected", hidden: true });
    this.cells.state.append(this.pill, this.ejected);
    this.cpuText = h("span");
    this.cpuFill = h("div", { class: "cpu-fill" });
    this.cells.cpu.append(h("span", { class: "cpu" }, h("span", { class: "cpu-bar" }, this.cpuFill), this.cpuText));
    this.el = h("tr", { data: { instance: id } }, Object.values(this.cells));
  }

  update(i) {
    setData(this.el, "state", i.state);
    setData(this.el, "ejected", i.ejected ? 1 : 0);
    setData(this.pill, "state", i.state);
    setText(this.pill, i.state);
    this.ejected.hidden = !i.ejected;
    setText(this.cells.revision, i.revision);
    setText(this.cells.port, i.port ?? "—");
    setText(this.cells.pid, i.pid ?? "—");
    if (i.cpu_percent === null || i.cpu_percent === undefined) {
      setText(this.cpuText, "—");
      this.cpuFill.style.width = "0";
    } else {
      setText(this.cpuText, `${i.cpu_percent.toFixed(1)}%`);
      this.cpuFill.style.width = `${Math.min(100, i.cpu_percent)}%`;
      setData(this.cpuFill, "tone", i.cpu_percent >= 90 ? "bad" : i.cpu_percent >= 70 ? "warn" : "ok");
    }
    setText(this.cells.memory, bytes(i.memory_bytes));
    setText(this.cells.inflight, i.inflight);
    setText(this.cells.requests, i.requests.toLocaleString("en-US"));
    setText(this.cells.latency, i.latency_ms === null || i.latency_ms === undefined ? "—" : joined(ms(i.latency_ms)));
    const conns = i.connections ?? 0;
    setText(this.cells.conns, conns);
    setData(this.cells.conns, "open", conns);
    setText(this.cells.restarts, i.restarts);
    this.cells.restarts.className = i.restarts > 0 ? "r restarts-hot" : "r";
    this.cells.restarts.title = i.last_exit ? `last exit: ${i.last_exit}` : "";
    setText(this.cells.uptime, i.state === "stopped" ? "—" : duration(i.uptime_secs));
    setText(this.cells.volume, i.volume ? shortPath(i.volume) : "—");
    this.cells.volume.title = i.volume || "";
  }
}

/** The rollout in progress (rolling progress or canary weight, step and checks), else how the
 * last one ended. */
class RolloutView {
  constructor() {
    this.title = h("span", { class: "rollout-title" });
    this.revs = h("span", { class: "rollout-revs" });
    this.facts = h("span", { class: "rollout-facts" });
    this.progressLabel = h("b");
    this.progressNew = h("div", { class: "meter-fill new" });
    this.progressFill = h("div", { class: "meter-fill" });
    this.weightLabel = h("b");
    this.weightFill = h("div", { class: "meter-fill canary" });
    this.weightBox = h(
      "div",
      {},
      h("div", { class: "meter-label" }, h("span", { text: "canary traffic" }), this.weightLabel),
      h("div", { class: "meter" }, this.weightFill),
    );
    this.message = h("div", { class: "rollout-message" });
    this.checks = h("div", { class: "checks" });
    this.active = h(
      "div",
      { class: "rollout", hidden: true },
      h("div", { class: "rollout-head" }, this.title, this.revs, this.facts),
      h(
        "div",
        { class: "rollout-body" },
        h(
          "div",
          {},
          h("div", { class: "meter-label" }, h("span", { text: "updated" }), this.progressLabel),
          h("div", { class: "meter" }, this.progressNew, this.progressFill),
        ),
        this.weightBox,
      ),
      this.message,
      this.checks,
    );
    this.last = h("div", { class: "last-rollout", hidden: true });
    this.el = h("div", { class: "rollout-area" }, this.active, this.last);
  }

  update(svc) {
    const r = svc.rollout;
    this.active.hidden = !r;
    if (r) {
      setData(this.active, "phase", r.phase);
      setData(this.active, "strategy", r.strategy);
      const phase = r.phase === r.strategy ? r.strategy : `${r.strategy} · ${r.phase}`;
      setText(this.title, phase);
      setText(this.revs, `rev ${r.from} → rev ${r.revision}`);
      const facts = [`${r.new} new`, `${r.healthy} healthy`, `${r.old} old`, `desired ${r.desired}`];
      if (r.step) facts.push(`step ${r.step[0]}/${r.step[1]}`);
      if (r.failures) facts.push(`failed checks ${r.failures[0]}/${r.failures[1]}`);
      setText(this.facts, facts.join(" · "));
      const want = Math.max(1, r.desired);
      setText(this.progressLabel, `${r.updated} / ${r.desired}`);
      this.progressFill.style.width = `${Math.min(100, (100 * r.updated) / want)}%`;
      this.progressNew.style.width = `${Math.min(100, (100 * r.new) / want)}%`;
      const weight = r.canary_weight;
      this.weightBox.hidden = weight === undefined || weight === null;
      if (!this.weightBox.hidden) {
        setText(this.weightLabel, `${weight}%`);
        this.weightFill.style.width = `${Math.min(100, weight)}%`;
      }
      setText(this.message, r.message || "");
      this.updateChecks(r.checks || []);
    }
    const last = svc.last_rollout;
    this.last.hidden = !!r || !last;
    if (!r && last) {
      setData(this.last, "result", last.result);
      const words = { complete: "complete", reverted: "reverted", rolled_back: "rolled back", failed: "failed" };
      const key = `${last.revision}|${last.result}|${last.at}`;
      if (this.last.dataset.key !== key) {
        this.last.dataset.key = key;
        this.last.replaceChildren(
          "Last rollout: ",
          h("b", { text: `rev ${last.revision} ${words[last.result] || last.result}` }),
          ` at ${clock(last.at)} — ${last.message}`,
        );
      }
    }
  }

  updateChecks(checks) {
    const key = JSON.stringify(checks);
    if (this.checks.dataset.key === key) return;
    this.checks.dataset.key = key;
    const marks = { pass: "✓", fail: "✕", inconclusive: "?" };
    this.checks.replaceChildren(
      ...checks.map((c) =>
        h(
          "span",
          { class: "check", data: { result: c.result }, title: c.detail },
          h("span", { class: "check-mark", text: marks[c.result] || "·" }),
          h("span", { class: "check-detail", text: c.detail }),
        ),
      ),
    );
  }
}
