'use strict';
// Stateless API of shoal's redis-node example (seed 002): writes go to the Redis main, reads go to
// the read replicas through a small pool of recycled connections, and /metrics serves Prometheus.
// See README.md beside this file for the environment and the endpoints.

const http = require('node:http');
const os = require('node:os');
const crypto = require('node:crypto');
const Redis = require('ioredis');
const prom = require('prom-client');

// ---------------------------------------------------------------------------------------------
// Configuration

function intEnv(name, dflt, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`redis-node-api: ${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const HOST = '127.0.0.1';
const PORT = intEnv('PORT', 3000, 0);
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const REDIS_REPLICAS_URL = process.env.REDIS_REPLICAS_URL || REDIS_URL;
const REPLICA_POOL = intEnv('REPLICA_POOL', 4, 1);
const REPLICA_CONN_LIFETIME_MS = intEnv('REPLICA_CONN_LIFETIME_MS', 5000, 0); // 0: never recycle
const REPLICA_READ_TIMEOUT_MS = intEnv('REPLICA_READ_TIMEOUT_MS', 1000, 1);
const INSTANCE = process.env.SHOAL_INSTANCE_ID || `${os.hostname()}:${process.pid}`;
const LOG_REQUESTS = process.env.LOG_REQUESTS === '1';

const BODY_LIMIT = 64 * 1024;
const HEALTH_TIMEOUT_MS = 500;
const DRAIN_TIMEOUT_MS = 10000;
const ITEMS_KEEP = 1000;

// ---------------------------------------------------------------------------------------------
// Metrics

const register = new prom.Registry();
register.setDefaultLabels({ instance: INSTANCE });
prom.collectDefaultMetrics({ register });

const httpRequests = new prom.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route and status code',
  labelNames: ['method', 'route', 'code'],
  registers: [register],
});
const httpDuration = new prom.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by method and route',
  labelNames: ['method', 'route'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [register],
});
const readFallbacks = new prom.Counter({
  name: 'redis_read_fallbacks_total',
  help: 'Reads that failed on the replicas (twice) and were served by the main',
  registers: [register],
});
const redisErrors = new prom.Counter({
  name: 'redis_errors_total',
  help: 'Redis connection and command errors, by target (main or replica)',
  labelNames: ['target'],
  registers: [register],
});
const replicaMisses = new prom.Counter({
  name: 'redis_replica_misses_total',
  help: 'GET /item lookups absent on the replica (replication lag) and read again from the main',
  registers: [register],
});
const replicaRecycles = new prom.Counter({
  name: 'redis_replica_connection_recycles_total',
  help: 'Pooled replica connections replaced by a fresh one after their lifetime',
  registers: [register],
});
redisErrors.inc({ target: 'main' }, 0);
redisErrors.inc({ target: 'replica' }, 0);

// ---------------------------------------------------------------------------------------------
// Redis connections

const lastErrorLog = { main: 0, replica: 0 };
function noteRedisError(target, err) {
  redisErrors.inc({ target });
  const now = Date.now();
  if (now - lastErrorLog[target] > 5000) { // at most one line per target every 5 s
    lastErrorLog[target] = now;
    console.error(`redis-node-api ${INSTANCE}: redis ${target} error: ${err && err.message}`);
  }
}

function clientName(suffix) {
  return `${INSTANCE}/${suffix}`.replace(/[^A-Za-z0-9._:\/-]/g, '_');
}

// A dropped connection must not fail a command: commands wait in the offline queue while ioredis
// reconnects quickly, and the ones already sent are sent again once it is back.
function connect(url, name, target) {
  const conn = new Redis(url, {
    connectionName: clientName(name),
    autoResendUnfulfilledCommands: true,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 20,
    retryStrategy: (times) => Math.min(times * 50, 500),
    connectTimeout: 2000,
  });
  conn.on('error', (err) => noteRedisError(target, err));
  return conn;
}

const main = connect(REDIS_URL, 'main', 'main');

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The replicas sit behind one TCP load balancer that balances per connection, so each pooled
// connection is replaced after its lifetime: when replicas scale out, new connections reach them.
class ReplicaPool {
  constructor(url, size, lifetimeMs) {
    this.url = url;
    this.size = size;
    this.lifetimeMs = lifetimeMs;
    this.next = 0;
    this.generation = 0;
    this.closing = false;
    this.timers = new Set();
    this.retiring = new Set();
    this.slots = [];
    for (let i = 0; i < size; i++) {
      this.slots.push(this.open(i));
      // Stagger the first recycling so that the connections are not all replaced at once.
      if (lifetimeMs > 0) this.schedule(i, Math.round(lifetimeMs * (i + 1) / size));
    }
  }

  open(i) {
    this.generation += 1;
    return { conn: connect(this.url, `read-${i}.${this.generation}`, 'replica'), inflight: 0, retired: false };
  }

  schedule(i, ms) {
    const jitter = Math.round(ms * 0.1 * Math.random());
    const timer = setTimeout(() => { this.timers.delete(timer); this.recycle(i); }, ms + jitter);
    timer.unref();
    this.timers.add(timer);
  }

  // Open the new connection, swap it in once it is ready, then quit the old one once the reads
  // it carries are done (QUIT itself also waits for the replies already asked for).
  recycle(i) {
    if (this.closing) return;
    const fresh = this.open(i);
    let settled = false;
    const onReady = () => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      if (this.closing) { fresh.conn.disconnect(); return; }
      const old = this.slots[i];
      this.slots[i] = fresh;
      replicaRecycles.inc();
      this.retire(old);
      this.schedule(i, this.lifetimeMs);
    };
    // Replicas unreachable: keep the old connection (it reconnects by itself) and try later.
    const giveUp = setTimeout(() => {
      if (settled) return;
      settled = true;
      fresh.conn.removeListener('ready', onReady);
      fresh.conn.disconnect();
      this.schedule(i, this.lifetimeMs);
    }, Math.max(this.lifetimeMs, 2000));
    giveUp.unref();
    fresh.conn.once('ready', onReady);
  }

  retire(slot) {
    slot.retired = true;
    this.retiring.add(slot);
    if (slot.inflight === 0) this.quit(slot);
  }

  quit(slot) {
    slot.conn.quit().catch(() => slot.conn.disconnect()).finally(() => this.retiring.delete(slot));
  }

  // Round robin over the pooled connections, preferring the ones that are connected now.
  acquire(exclude) {
    let chosen = null;
    for (let k = 0; k < this.size; k++) {
      const slot = this.slots[(this.next + k) % this.size];
      if (slot === exclude) continue;
      if (slot.conn.status === 'ready') { chosen = slot; break; }
      if (!chosen) chosen = slot;
    }
    this.next = (this.next + 1) % this.size;
    if (chosen) chosen.inflight += 1;
    return chosen;
  }

  release(slot) {
    slot.inflight -= 1;
    if (slot.retired && slot.inflight === 0 && this.retiring.has(slot)) this.quit(slot);
  }

  // Runs fn(conn) on a pooled connection and gives the connection back when fn settles (not when
  // the caller stops waiting), so a recycled connection is never quit under a read.
  run(slot, fn) {
    let p;
    try { p = Promise.resolve(fn(slot.conn)); } catch (e) { p = Promise.reject(e); }
    p.then(() => this.release(slot), () => this.release(slot));
    return p;
  }

  readyCount() {
    return this.slots.filter((s) => s.conn.status === 'ready').length;
  }

  async close() {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const all = [...this.slots, ...this.retiring];
    await Promise.allSettled(all.map((s) => s.conn.quit()));
  }
}

const replicas = new ReplicaPool(REDIS_REPLICAS_URL, REPLICA_POOL, REPLICA_CONN_LIFETIME_MS);

new prom.Gauge({
  name: 'redis_replica_pool_ready_connections',
  help: 'Pooled replica connections connected right now',
  registers: [register],
  collect() { this.set(replicas.readyCount()); },
});

// A read on the replicas: on error (or when it takes longer than REPLICA_READ_TIMEOUT_MS; 250 ms at
// most when no pooled connection is connected) once more on another pooled connection, then once
// on the main, counted as a fallback.
async function replicaRead(fn) {
  const first = replicas.acquire(null);
  // No pooled connection is connected (replicas down or restarting): wait less before the main.
  const firstTimeout = first.conn.status === 'ready' ? REPLICA_READ_TIMEOUT_MS : Math.min(REPLICA_READ_TIMEOUT_MS, 250);
  try {
    return { result: await withTimeout(replicas.run(first, fn), firstTimeout, 'replica read'), source: 'replica' };
  } catch (err) {
    noteRedisError('replica', err);
  }
  // A second connection that is not connected either would only queue the read: skip to the main.
  const second = replicas.acquire(first);
  if (second && second.conn.status !== 'ready') {
    replicas.release(second);
  } else if (second) {
    try {
      return { result: await withTimeout(replicas.run(second, fn), REPLICA_READ_TIMEOUT_MS, 'replica read'), source: 'replica' };
    } catch (err) {
      noteRedisError('replica', err);
    }
  }
  readFallbacks.inc();
  return { result: await onMain(fn), source: 'main' };
}

async function onMain(fn) {
  try {
    return await fn(main);
  } catch (err) {
    noteRedisError('main', err);
    throw Object.assign(err, { redisTarget: 'main' });
  }
}

function parseItem(id, hash) {
  if (!hash || hash.value === undefined) return null;
  return { id, value: hash.value, created: Number(hash.created) };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

class HttpError extends Error {
  constructor(status, message, extra) {
    super(message);
    this.status = status;
    this.extra = extra || {};
  }
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > BODY_LIMIT) {
      reject(new HttpError(413, `body larger than ${BODY_LIMIT} bytes`));
      return;
    }
    const chunks = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk) => {
      if (done) return;
      size += chunk.length;
      if (size > BODY_LIMIT) {
        done = true;
        reject(new HttpError(413, `body larger than ${BODY_LIMIT} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks).toString('utf8')); } });
    req.on('error', (err) => { if (!done) { done = true; reject(err); } });
  });
}

function positiveInt(raw, name) {
  if (raw === null || !/^[0-9]{1,15}$/.test(raw) || Number(raw) < 1) {
    throw new HttpError(400, `${name} must be a positive integer`);
  }
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------
// Handlers

async function postItem(req, res) {
  const text = await readBody(req);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.value !== 'string') {
    throw new HttpError(400, 'body must be a JSON object with a string "value"');
  }
  const id = await onMain((r) => r.incr('items:next'));
  const created = Date.now();
  // One MULTI so that a replica never sees the id in the list without its hash.
  await onMain((r) => r.multi()
    .hset(`item:${id}`, 'value', body.value, 'created', String(created))
    .lpush('items', String(id))
    .ltrim('items', 0, ITEMS_KEEP - 1)
    .exec());
  res.setHeader('location', `/item?id=${id}`);
  sendJson(res, 201, { id, instance: INSTANCE });
}

async function getItem(url, res) {
  const id = positiveInt(url.searchParams.get('id'), 'id');
  const key = `item:${id}`;
  const read = await replicaRead((r) => r.hgetall(key));
  let item = parseItem(id, read.result);
  let source = read.source;
  if (!item && source === 'replica') {
    // Not on the replica (yet): replication lag right after a write, or absent everywhere.
    replicaMisses.inc();
    item = parseItem(id, await onMain((r) => r.hgetall(key)));
    source = 'main';
  }
  if (!item) throw new HttpError(404, `no item ${id}`, { id });
  sendJson(res, 200, { ...item, source, instance: INSTANCE });
}

async function getItems(url, res) {
  const raw = url.searchParams.get('limit');
  const limit = raw === null ? 20 : Math.min(positiveInt(raw, 'limit'), 100);
  const read = await replicaRead(async (r) => {
    const ids = await r.lrange('items', 0, limit - 1);
    if (ids.length === 0) return [];
    const pipe = r.pipeline();
    for (const id of ids) pipe.hgetall(`item:${id}`);
    const replies = await pipe.exec();
    const items = [];
    replies.forEach(([err, hash], k) => {
      if (err) throw err;
      const item = parseItem(Number(ids[k]), hash);
      if (item) items.push(item);
    });
    return items;
  });
  sendJson(res, 200, { items: read.result, source: read.source, instance: INSTANCE });
}

async function ping(fn, target) {
  try {
    await withTimeout(fn(), HEALTH_TIMEOUT_MS, 'PING');
    return 'ok';
  } catch (err) {
    noteRedisError(target, err);
    return `error: ${err.message}`;
  }
}

async function getHealth(res) {
  const slot = replicas.acquire(null);
  const [mainState, replicaState] = await Promise.all([
    ping(() => main.ping(), 'main'),
    ping(() => replicas.run(slot, (r) => r.ping()), 'replica'),
  ]);
  const ok = mainState === 'ok' && replicaState === 'ok';
  sendJson(res, ok ? 200 : 503, { ok, main: mainState, replica: replicaState, instance: INSTANCE });
}

async function getMetrics(res) {
  const text = await register.metrics();
  res.writeHead(200, { 'content-type': register.contentType, 'cache-control': 'no-store' });
  res.end(text);
}

function getPage(res) {
  const nonce = crypto.randomBytes(16).toString('base64');
  const html = PAGE.replaceAll('__NONCE__', nonce);
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
      "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

// path -> { method: handler(req, res, url) }; HEAD is answered like GET.
const ROUTES = {
  '/': { GET: (req, res) => getPage(res) },
  '/item': { GET: (req, res, url) => getItem(url, res), POST: (req, res) => postItem(req, res) },
  '/items': { GET: (req, res, url) => getItems(url, res) },
  '/health': { GET: (req, res) => getHealth(res) },
  '/metrics': { GET: (req, res) => getMetrics(res) },
};
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// ---------------------------------------------------------------------------------------------
// Server and lifecycle

let inflight = 0;
let shuttingDown = false;

async function handle(req, res) {
  const started = process.hrtime.bigint();
  inflight += 1;
  res.setHeader('x-instance', INSTANCE);
  if (shuttingDown) res.setHeader('connection', 'close');

  let url;
  try {
    url = new URL(req.url, 'http://api.invalid');
  } catch {
    url = new URL('http://api.invalid/?');
  }
  const routes = Object.prototype.hasOwnProperty.call(ROUTES, url.pathname) ? ROUTES[url.pathname] : null;
  const route = routes ? url.pathname : 'unknown';
  const method = KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';

  res.on('close', () => {
    inflight -= 1;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    httpRequests.inc({ method, route, code: String(res.statusCode) });
    httpDuration.observe({ method, route }, seconds);
    if (LOG_REQUESTS) {
      console.log(`${new Date().toISOString()} ${INSTANCE} ${req.method} ${req.url} ${res.statusCode} ${(seconds * 1000).toFixed(1)}ms`);
    }
    if (shuttingDown) server.closeIdleConnections();
  });

  try {
    if (!routes) throw new HttpError(404, `no route ${url.pathname}`);
    const handler = routes[req.method] || (req.method === 'HEAD' ? routes.GET : undefined);
    if (!handler) {
      const allow = Object.keys(routes);
      if (routes.GET) allow.push('HEAD');
      res.setHeader('allow', allow.join(', '));
      throw new HttpError(405, `method ${req.method} not allowed on ${url.pathname}`);
    }
    await handler(req, res, url);
  } catch (err) {
    if (res.headersSent) { res.destroy(); return; }
    if (err instanceof HttpError) {
      if (err.status === 413) res.setHeader('connection', 'close');
      sendJson(res, err.status, { error: err.message, ...err.extra, instance: INSTANCE });
    } else if (err && err.redisTarget) {
      sendJson(res, 503, { error: `redis ${err.redisTarget} unavailable: ${err.message}`, instance: INSTANCE });
    } else {
      console.error(`redis-node-api ${INSTANCE}: ${req.method} ${req.url}: ${err && err.stack}`);
      sendJson(res, 500, { error: 'internal error', instance: INSTANCE });
    }
  }
}

const server = http.createServer(handle);
server.requestTimeout = 30000;
server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  else socket.destroy();
});
server.on('error', (err) => {
  console.error(`redis-node-api ${INSTANCE}: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

server.listen(PORT, HOST, () => {
  const { port } = server.address();
  console.log(`redis-node-api ${INSTANCE} listening on http://${HOST}:${port} ` +
    `(main ${redact(REDIS_URL)}, replicas ${redact(REDIS_REPLICAS_URL)}, pool ${REPLICA_POOL}, ` +
    `connection lifetime ${REPLICA_CONN_LIFETIME_MS} ms)`);
});

async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  const t0 = Date.now();
  const pending = inflight;
  // Stop accepting, let the requests in flight finish (bounded), then close idle keep-alives.
  const closed = new Promise((resolve) => server.close(() => resolve(true)));
  server.closeIdleConnections();
  const drained = await Promise.race([closed, sleep(DRAIN_TIMEOUT_MS).then(() => false)]);
  if (!drained) server.closeAllConnections();
  // QUIT waits for the replies already asked for; disconnect whatever does not answer in time.
  await Promise.race([Promise.allSettled([main.quit(), replicas.close()]), sleep(2000)]);
  main.disconnect();
  for (const s of [...replicas.slots, ...replicas.retiring]) s.conn.disconnect();
  console.log(`redis-node-api ${INSTANCE} stopped on ${signal} after ${Date.now() - t0} ms ` +
    `(${pending} request(s) in flight${drained ? '' : ', drain timed out'})`);
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (err) => {
  console.error(`redis-node-api ${INSTANCE}: unhandled rejection: ${err && err.stack}`);
});

// ---------------------------------------------------------------------------------------------
// The page at / : add an item, look one up, list the latest; shows which instance and which Redis
// source answered. Self-contained (no external resource), scripts and styles allowed by nonce.

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>redis-node API</title>
<style nonce="__NONCE__">
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  section { border: 1px solid #ccc; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  input { font: inherit; padding: .25rem .4rem; }
  input[type=text] { width: 20rem; max-width: 60%; }
  button { font: inherit; padding: .25rem .8rem; cursor: pointer; }
  .out { margin-top: .5rem; font-family: ui-monospace, monospace; font-size: .9rem; white-space: pre-wrap; word-break: break-all; }
  .meta { color: #666; font-size: .85rem; }
  .err { color: #b00020; }
  table { border-collapse: collapse; width: 100%; margin-top: .5rem; font-size: .9rem; }
  th, td { text-align: left; border-bottom: 1px solid #eee; padding: .2rem .4rem; vertical-align: top; }
  td.v { word-break: break-all; }
</style>
</head>
<body>
<h1>redis-node API</h1>
<div class="meta">Page served by instance <b id="page-instance">__INSTANCE__</b>. Writes go to the Redis main, reads to the replicas.</div>

<section>
  <h2>Add an item</h2>
  <form id="add"><input type="text" id="value" placeholder="value" required maxlength="60000"> <button>Add</button></form>
  <div class="out" id="add-out"></div>
</section>

<section>
  <h2>Look up an item</h2>
  <form id="get"><input type="number" id="id" min="1" step="1" placeholder="id" required> <button>Get</button></form>
  <div class="out" id="get-out"></div>
</section>

<section>
  <h2>Latest items</h2>
  <form id="list"><input type="number" id="limit" min="1" max="100" value="20"> <button>Refresh</button></form>
  <div class="meta" id="list-meta"></div>
  <table><thead><tr><th>id</th><th>value</th><th>created</th></tr></thead><tbody id="list-body"></tbody></table>
</section>

<script nonce="__NONCE__">
'use strict';
const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) { opts.headers['content-type'] = 'application/json'; opts.body = JSON.stringify(body); }
  const res = await fetch(path, opts);
  let data;
  try { data = await res.json(); } catch { data = { error: 'response is not JSON' }; }
  return { status: res.status, instance: res.headers.get('x-instance'), data };
}

function show(el, r, text) {
  el.className = 'out' + (r.status >= 400 ? ' err' : '');
  el.textContent = text + '\\n' + 'HTTP ' + r.status + ' from API instance ' + r.instance +
    (r.data.source ? ', Redis source: ' + r.data.source : '');
}

function fail(el, err) { el.className = 'out err'; el.textContent = String(err); }

$('add').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const r = await call('POST', 'item', { value: $('value').value });
    show($('add-out'), r, r.status === 201 ? 'added item ' + r.data.id : 'error: ' + r.data.error);
    if (r.status === 201) { $('id').value = r.data.id; $('value').value = ''; list(); }
  } catch (err) { fail($('add-out'), err); }
});

$('get').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const r = await call('GET', 'item?id=' + encodeURIComponent($('id').value));
    show($('get-out'), r, r.status === 200
      ? 'item ' + r.data.id + ': ' + JSON.stringify(r.data.value) + ' (created ' + new Date(r.data.created).toLocaleString() + ')'
      : 'error: ' + r.data.error);
  } catch (err) { fail($('get-out'), err); }
});

async function list() {
  const meta = $('list-meta'), tbody = $('list-body');
  try {
    const r = await call('GET', 'items?limit=' + encodeURIComponent($('limit').value || '20'));
    if (r.status !== 200) { meta.className = 'meta err'; meta.textContent = 'HTTP ' + r.status + ': ' + r.data.error; return; }
    meta.className = 'meta';
    meta.textContent = r.data.items.length + ' item(s) from API instance ' + r.instance + ', Redis source: ' + r.data.source;
    tbody.replaceChildren();
    for (const it of r.data.items) {
      const tr = document.createElement('tr');
      const value = it.value.length > 200 ? it.value.slice(0, 200) + '\u2026 (' + it.value.length + ' chars)' : it.value;
      for (const [cls, text] of [['', it.id], ['v', value], ['', new Date(it.created).toLocaleString()]]) {
        const td = document.createElement('td');
        if (cls) td.className = cls;
        td.textContent = text;
        tr.append(td);
      }
      tbody.append(tr);
    }
  } catch (err) { meta.className = 'meta err'; meta.textContent = String(err); }
}

$('list').addEventListener('submit', (e) => { e.preventDefault(); list(); });
list();
</script>
</body>
</html>
`.replace('__INSTANCE__', () => INSTANCE.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`));
