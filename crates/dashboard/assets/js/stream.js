// Talking to shoal: the live stream (/v1/stream, server-sent events), the admin token kept in
// sessionStorage, and the one mutation the page offers (scale). Nothing here touches the DOM.

const TOKEN_KEY = "shoal.token";
/** No status for this long on an open stream means the connection is dead in all but name. */
const STALE_MS = 5000;
/** Reconnect delays after the browser gives up on its own (grows, capped). */
const BACKOFF_MS = [1000, 2000, 4000, 8000];

/**
 * Follows /v1/stream. `handlers`: onStatus(body), onEvents(events), onState(state, detail) with
 * state one of "connecting", "live", "disconnected". The browser's EventSource reconnects by
 * itself (sending Last-Event-ID); when it closes for good, or the stream goes quiet, a new one
 * is opened after a short backoff, resuming after the last event seen.
 */
export class Stream {
  constructor(handlers) {
    this.handlers = handlers;
    this.source = null;
    this.lastSeq = 0;
    this.lastMessage = 0;
    this.attempt = 0;
    this.retryTimer = null;
    this.shuttingDown = false;
    this.state = null;
    this.disconnectedAt = null;
    this.watchdog = setInterval(() => this.checkStale(), 1000);
  }

  start() {
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.source) this.source.close();
    const url = this.lastSeq > 0 ? `/v1/stream?since=${this.lastSeq}` : "/v1/stream";
    const source = new EventSource(url);
    this.source = source;
    if (this.state !== "disconnected") this.setState("connecting");
    source.addEventListener("open", () => {
      this.lastMessage = Date.now();
    });
    source.addEventListener("status", (e) => {
      const body = parseJson(e.data);
      if (!body) return;
      this.lastMessage = Date.now();
      this.attempt = 0;
      this.shuttingDown = false;
      this.setState("live");
      this.handlers.onStatus(body);
    });
    source.addEventListener("events", (e) => {
      const body = parseJson(e.data);
      if (!body || !Array.isArray(body.events)) return;
      this.lastMessage = Date.now();
      // Ascending; after a restart of shoal the numbers start again, so take the last, not the max.
      const last = body.events[body.events.length - 1];
      if (last && last.seq) this.lastSeq = last.seq;
      this.handlers.onEvents(body.events);
    });
    source.addEventListener("shutdown", () => {
      this.shuttingDown = true;
      this.disconnected("shoal is shutting down");
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser will not retry (e.g. an HTTP error): do it ourselves.
        this.disconnected("connection closed");
        this.scheduleRetry();
      } else {
        this.disconnected(this.shuttingDown ? "shoal is shutting down" : "connection lost");
      }
    });
  }

  disconnected(reason) {
    if (this.state !== "disconnected") this.disconnectedAt = Date.now();
    this.setState("disconnected", { reason, since: this.disconnectedAt });
  }

  scheduleRetry() {
    if (this.retryTimer) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  checkStale() {
    if (this.state === "live" && Date.now() - this.lastMessage > STALE_MS) {
      this.disconnected("no data for a while");
      this.open();
    } else if (this.state === "disconnected") {
      // Keep the "for Ns" in the indicator moving.
      this.handlers.onState("disconnected", { reason: this.reason, since: this.disconnectedAt });
    }
  }

  setState(state, detail = {}) {
    const changed = state !== this.state || detail.reason !== this.reason;
    this.state = state;
    this.reason = detail.reason;
    if (state !== "disconnected") this.disconnectedAt = null;
    if (changed) this.handlers.onState(state, detail);
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    console.warn("shoal: unreadable message from /v1/stream", err);
    return null;
  }
}

/** The admin token for this tab, or "" (read-only). */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

/** Keeps the token for this tab only (sessionStorage), never in a cookie or the URL. */
export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lasts until the page is reloaded.
  }
}

/** The outcome of an API call: ok, HTTP status, and the error and hint the API gave. */
export class ApiResult {
  constructor(ok, status, body, error, hint) {
    this.ok = ok;
    this.status = status;
    this.body = body;
    this.error = error;
    this.hint = hint;
  }
}

/** `POST /v1/services/{name}/scale` with `{"delta": delta}`. */
export async function scale(service, delta, token) {
  return post(`/v1/services/${encodeURIComponent(service)}/scale`, { delta }, token);
}

async function post(path, body, token) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    return new ApiResult(false, 0, null, "shoal did not answer", `${err.message || err}`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (response.ok) return new ApiResult(true, response.status, json, null, null);
  const error = (json && json.error) || text.trim() || response.statusText || "request failed";
  return new ApiResult(false, response.status, json, error, json && json.hint);
}
