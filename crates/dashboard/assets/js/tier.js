// What makes a service one tier of an application rather than a web route: the gateway's TCP
// listener and its connections, the volumes of a stateful service, its start order (depends_on,
// and what it still waits for) and its catalog tags. The API reports only counters for TCP;
// the rates shown here come from two consecutive status samples, as a user of `redis-cli
// --stat` or pg_stat_database would compute them.

import { h, setText, setData, valueWithUnit, rate, bytes } from "./format.js";

/** Readings closer together than this (a reconnect's burst) would make the rate jump. */
const MIN_RATE_GAP_MS = 300;
/** Above this share of max_connections the connection count is shown as a warning. */
const BUSY_SHARE = 0.9;
/** Paths up to this long are shown whole; longer ones keep their last components. */
const PATH_CHARS = 34;

/**
 * The rates between the previous reading `prev` (or undefined) and the counters `tcp` read at
 * `t` (ms). Returns the new reading, with `rates` null when there is nothing to compare with or
 * the counters went back (shoal restarted), and the previous rates kept when the readings are
 * too close together to mean anything.
 */
export function tcpReading(prev, tcp, t) {
  const reading = { t, accepted: tcp.accepted, bytes_in: tcp.bytes_in, bytes_out: tcp.bytes_out, rates: null };
  if (!prev) return reading;
  const dt = (t - prev.t) / 1000;
  const went_back = tcp.accepted < prev.accepted || tcp.bytes_in < prev.bytes_in || tcp.bytes_out < prev.bytes_out;
  if (went_back) return reading;
  if (dt * 1000 < MIN_RATE_GAP_MS) return { ...prev, rates: prev.rates };
  reading.rates = {
    accepted: (tcp.accepted - prev.accepted) / dt,
    bytes_in: (tcp.bytes_in - prev.bytes_in) / dt,
    bytes_out: (tcp.bytes_out - prev.bytes_out) / dt,
  };
  return reading;
}

/** "…/volumes/db/db-1" for a long path: its last components that fit, whole when short. */
export function shortPath(path) {
  if (!path || path.length <= PATH_CHARS) return path || "";
  const parts = path.split("/").filter(Boolean);
  let out = parts.pop() || path;
  while (parts.length && out.length + parts[parts.length - 1].length + 1 <= PATH_CHARS - 2) {
    out = `${parts.pop()}/${out}`;
  }
  return `…/${out}`;
}

/** ":6380" for a loopback listener (the host is implied on one machine), else host:port. */
export function shortListen(listen) {
  const m = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(listen || "");
  return m ? `:${m[2]}` : listen || "";
}

/** Bytes per second, in the binary units the rest of the page uses. */
export function byteRate(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return `${bytes(Math.round(n))}/s`;
}

/** A list as people write it: "a", "a and b", "a, b and c". */
export function words(list) {
  if (list.length <= 1) return list.join("");
  return `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

/** Whether a service is reached only over TCP, so its HTTP figures would always read zero. */
export function tcpOnly(svc) {
  return !!svc.tcp && !svc.route;
}

function stat(label, cls) {
  const value = h("div", { class: "stat-value" });
  const sub = h("div", { class: "stat-sub" });
  const el = h("div", { class: `stat ${cls}` }, h("div", { class: "stat-label", text: label }), value, sub);
  return { el, value, sub };
}

/** The badges in a card's title and the TCP figures among its stats. */
export class TierView {
  constructor(name) {
    this.name = name;
    this.tcpTag = h("span", { class: "tag mono tcp", hidden: true });
    this.internal = h("span", {
      class: "tag dim",
      text: "internal",
      hidden: true,
      title: "not exposed by the gateway: neither an HTTP route nor a TCP listener",
    });
    this.stateful = h("span", { class: "tag stateful", text: "stateful", hidden: true });
    this.waiting = h("span", { class: "tag warn waiting", hidden: true });
    this.labels = h("span", { class: "labels", hidden: true });
    this.deps = h("span", { class: "deps", hidden: true });
    /** In the title row, after the route. */
    this.head = [this.tcpTag, this.internal, this.stateful, this.labels, this.waiting, this.deps];

    this.conns = stat("TCP connections", "tcp-conns");
    this.throughput = stat("TCP throughput", "tcp-bytes");
    this.stats = [this.conns.el, this.throughput.el];
  }

  /** Shows `svc`'s tier facts; `reading` is the last of its TCP readings (see tcpReading). */
  update(svc, reading) {
    this.updateHead(svc);
    const tcp = svc.tcp;
    for (const el of this.stats) el.hidden = !tcp;
    if (tcp) this.updateTcp(tcp, reading && reading.rates);
  }

  updateHead(svc) {
    const tcp = svc.tcp;
    this.tcpTag.hidden = !tcp;
    if (tcp) {
      setText(this.tcpTag, `tcp ${tcp.listen}`);
      this.tcpTag.title = `the gateway's TCP listener for ${this.name}: clients connect to ${tcp.listen}`;
    }
    this.internal.hidden = !!(tcp || svc.route);
    this.stateful.hidden = !svc.volumes;
    this.stateful.title = svc.volumes ? `stable identities; each keeps its volume under ${svc.volumes}` : "";

    const waiting = svc.waiting_for || [];
    this.waiting.hidden = waiting.length === 0;
    setData(this.waiting, "for", waiting.join(","));
    setText(this.waiting, `waiting for ${words(waiting)}`);
    this.waiting.title = "depends_on: its first instance starts once these have a healthy instance";

    const deps = svc.depends_on || [];
    this.deps.hidden = deps.length === 0;
    setText(this.deps, `starts after ${words(deps)}`);
    this.deps.title = `depends_on: ${deps.join(", ")} (started before it, stopped after it)`;

    const tags = svc.tags || [];
    this.labels.hidden = tags.length === 0;
    const key = tags.join("\u0000");
    if (this.labels.dataset.key !== key) {
      this.labels.dataset.key = key;
      this.labels.replaceChildren(...tags.map((t) => h("span", { class: "label", text: t, title: `tag: ${t}` })));
    }
  }

  updateTcp(tcp, rates) {
    const c = this.conns;
    valueWithUnit(c.value, [String(tcp.open), `/ ${tcp.max_connections}`]);
    setData(c.el, "open", tcp.open);
    setData(c.el, "tone", tcp.open >= BUSY_SHARE * tcp.max_connections ? "warn" : "");
    const accepted = rates ? `${rates.accepted > 0 ? "+" : ""}${rate(rates.accepted).join("")}/s` : "—/s";
    const key = [accepted, tcp.accepted, tcp.refused, tcp.no_instance].join("|");
    if (c.sub.dataset.key !== key) {
      c.sub.dataset.key = key;
      const parts = [`${accepted} · ${tcp.accepted.toLocaleString("en-US")} accepted`];
      if (tcp.refused > 0) {
        parts.push(" · ", h("span", { class: "hot bad", data: { count: "refused" }, text: `${tcp.refused} refused`, title: "refused at max_connections" }));
      }
      if (tcp.no_instance > 0) {
        parts.push(" · ", h("span", { class: "hot warn", data: { count: "no-instance" }, text: `${tcp.no_instance} no instance`, title: "closed unserved: no instance could take them" }));
      }
      c.sub.replaceChildren(...parts);
    }
    c.sub.title = "accepted connections per second (between the last two samples) and since shoal started";

    const t = this.throughput;
    const total = rates ? rates.bytes_in + rates.bytes_out : null;
    const [value, ...unit] = byteRate(total).split(" ");
    valueWithUnit(t.value, [value, unit.join(" ")]);
    setText(t.sub, `in ${rates ? byteRate(rates.bytes_in) : "—"} · out ${rates ? byteRate(rates.bytes_out) : "—"}`);
    t.sub.title = `since shoal started: ${bytes(tcp.bytes_in)} from clients, ${bytes(tcp.bytes_out)} to them`;
  }
}
