// One card per service: health and counts, traffic, the rollout in progress, charts of the last
// 15 minutes, and the instance table. Built once, then updated in place every second (keyed by
// instance id), so hovering, selecting text or a half-typed token survive the updates.

import { h, setText, setData, valueWithUnit, rate, ms, percent, joined, bytes, duration, clock } from "./format.js";
import { TimeChart } from "./charts.js";

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

/** A card for one service. `actions.scale(name, delta, button)` runs a scale request. */
export class ServiceView {
  constructor(name, actions) {
    this.name = name;
    this.rows = new Map();

    this.dot = h("span", { class: "health-dot" });
    this.route = h("span", { class: "tag mono", title: "route (host + path prefix) at the gateway" });
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
    this.minus = h("button", {
      class: "btn icon",
      type: "button",
      title: `scale ${name} down by one`,
      "aria-label": `scale ${name} down by one`,
      data: { action: "scale-down" },
      text: "−",
      onclick: () => actions.scale(name, -1, this.minus),
    });
    this.plus = h("button", {
      class: "btn icon",
      type: "button",
      title: `scale ${name} up by one`,
      "aria-label": `scale ${name} up by one`,
      data: { action: "scale-up" },
      text: "+",
      onclick: () => actions.scale(name, 1, this.plus),
    });

    this.instancesStat = stat("Instances healthy");
    this.slots = h("div", { class: "slots", "aria-hidden": "true" });
    this.instancesStat.el.insertBefore(this.slots, this.instancesStat.sub);
    this.rpsStat = stat("Requests / s");
    this.latencyStat = stat("Latency p95");
    this.errorStat = stat("Error rate");

    this.rollout = new RolloutView();

    this.charts = {
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
      instances: new TimeChart({
        id: "instances",
        title: "Instances",
        series: [
          { key: "healthy", label: "healthy", color: "--ok", fill: true, step: true },
          { key: "total", label: "running", color: "--c-inst", step: true },
          { key: "desired", label: "desired", color: "--c-desired", step: true, dashed: true },
        ],
        format: (v) => String(Math.round(v)),
        tick: (v) => String(v),
        integer: true,
        floor: 1,
      }),
    };

    this.tbody = h("tbody");
    const th = (text, cls, title) => h("th", { class: cls, text, title });
    const table = h(
      "table",
      { class: "instances" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          th("Instance"),
          th("Rev", "r"),
          th("State"),
          th("Port", "r"),
          th("PID", "r"),
          th("CPU", "r", "percent of resources.cpu over the last second"),
          th("Memory", "r"),
          th("In-flight", "r", "requests in flight through the gateway"),
          th("Requests", "r", "requests through the gateway since it became routable"),
          th("Latency", "r", "the gateway's latency estimate (EWMA)"),
          th("Restarts", "r"),
          th("Uptime", "r"),
        ),
      ),
      this.tbody,
    );

    this.el = h(
      "section",
      { class: "svc card", data: { service: name }, "aria-label": `service ${name}` },
      h(
        "header",
        { class: "svc-head" },
        h(
          "div",
          { class: "svc-title" },
          this.dot,
          h("h2", { text: name }),
          this.route,
          this.revision,
          this.autoscaled,
          this.rolloutTag,
          this.failOpen,
        ),
        h(
          "div",
          { class: "scale" },
          this.minus,
          h("span", { class: "scale-label" }, "desired ", this.desiredLabel),
          this.plus,
        ),
      ),
      h(
        "div",
        { class: "stats" },
        this.instancesStat.el,
        this.rpsStat.el,
        this.latencyStat.el,
        this.errorStat.el,
      ),
      this.rollout.el,
      h("div", { class: "charts" }, Object.values(this.charts).map((c) => c.el)),
      h("div", { class: "table-wrap" }, table),
    );
  }

  /** Shows `svc` (one service of /v1/status) and its history (samples, oldest first). */
  update(svc, history, now) {
    const counts = countStates(svc);
    const total = running(svc);
    setData(this.el, "healthy", counts.healthy);
    setData(this.el, "total", total);
    setData(this.el, "desired", svc.desired);
    setData(this.el, "tone", tone(svc));
    setData(this.dot, "tone", tone(svc));
    this.dot.title = { ok: "all desired instances healthy", warn: "degraded", bad: "down" }[tone(svc)];

    setText(this.route, svc.route || "not routed");
    this.route.title = svc.route
      ? "route (host + path prefix) at the gateway"
      : "not exposed by the gateway (checked over TCP)";
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

    // Instances: healthy / running, the capacity strip, desired and bounds.
    const iv = this.instancesStat;
    valueWithUnit(iv.value, [String(counts.healthy), `/ ${total}`]);
    setData(iv.el, "tone", counts.healthy === 0 && svc.desired > 0 ? "bad" : counts.healthy < svc.desired ? "warn" : "ok");
    const extra = STATES.filter((s) => s !== "healthy" && s !== "stopped" && counts[s] > 0)
      .map((s) => `${counts[s]} ${s}`)
      .join(" · ");
    setText(iv.sub, `desired ${svc.desired} · range ${svc.min}–${svc.max}${extra ? " · " + extra : ""}`);
    this.updateSlots(svc);

    const t = svc.traffic;
    valueWithUnit(this.rpsStat.value, rate(t.rps));
    setText(this.rpsStat.sub, `in-flight ${t.inflight.toFixed(1)}`);
    valueWithUnit(this.latencyStat.value, ms(t.p95_ms));
    setText(this.latencyStat.sub, `p50 ${joined(ms(t.p50_ms))} · p99 ${joined(ms(t.p99_ms))}`);
    valueWithUnit(this.errorStat.value, percent(t.error_rate));
    setData(this.errorStat.el, "tone", (t.error_rate || 0) >= 0.05 ? "bad" : (t.error_rate || 0) > 0 ? "warn" : "ok");
    setText(this.errorStat.sub, t.error_rate === null || t.error_rate === undefined ? "no responses this second" : "5xx share of responses");

    this.rollout.update(svc);
    this.charts.rps.update(history, now);
    this.charts.latency.update(history, now);
    this.charts.instances.update(history, now);
    this.updateInstances(svc);
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
    const td = (cls) => h("td", { class: cls });
    this.cells = {
      id: h("td", { class: "id", text: id }),
      revision: td("r"),
      state: td(""),
      port: td("r"),
      pid: td("r"),
      cpu: td("r"),
      memory: td("r"),
      inflight: td("r"),
      requests: td("r"),
      latency: td("r"),
      restarts: td("r"),
      uptime: td("r"),
    };
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
    setText(this.cells.restarts, i.restarts);
    this.cells.restarts.className = i.restarts > 0 ? "r restarts-hot" : "r";
    this.cells.restarts.title = i.last_exit ? `last exit: ${i.last_exit}` : "";
    setText(this.cells.uptime, i.state === "stopped" ? "—" : duration(i.uptime_secs));
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
