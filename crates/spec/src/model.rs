//! The compiled, validated spec. Everything downstream (supervisor, gateway, admin API) reads
//! these types only, so no consumer ever has to re-check a value or guess a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A whole validated `shoal.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Where the spec was read from (used to resolve relative paths and in messages).
    pub source: PathBuf,
    /// Directory relative paths in the spec (commands, data_dir) are resolved against:
    /// the directory containing the spec file.
    pub base_dir: PathBuf,
    pub gateway: GatewaySpec,
    pub admin: AdminSpec,
    /// Services by name, in name order so that output and startup order are stable.
    pub services: BTreeMap<String, ServiceSpec>,
}

/// `[gateway]`: the data-plane listener and its protective limits.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySpec {
    /// Default `127.0.0.1:8080`. Loopback by default: exposing it is an explicit choice.
    pub listen: SocketAddr,
    /// TCP connect timeout to an instance. Default 1s.
    pub connect_timeout: Duration,
    /// Longest wait for an instance's response headers before 504. Default 60s.
    pub response_timeout: Duration,
    /// Longest wait for a client's request headers (slowloris guard). Also bounds how long an
    /// idle client keep-alive connection waits for its next request. Default 10s.
    pub header_timeout: Duration,
    /// Pooled keep-alive connections to instances are not reused after idling this long. Default 60s.
    pub idle_timeout: Duration,
    /// Largest request head accepted from a client, in bytes. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Retries allowed as a fraction of requests (e.g. 0.2 = 20 %). Default 0.2.
    pub retry_budget: f64,
    /// Worker threads of the gateway's own runtime (key `threads`). `None` = half the machine's
    /// CPUs, at least one: the rest is left to the instances it proxies to.
    pub threads: Option<u32>,
}

/// `[admin]`: the control-plane API, dashboard and `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminSpec {
    /// Default `127.0.0.1:7070`.
    pub listen: SocketAddr,
    /// Default `.shoal`, resolved against `Spec::base_dir`. Holds the token, logs and state.
    pub data_dir: PathBuf,
}

/// `[services.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    /// argv; never passed to a shell. `{port}` in any element is replaced by the instance port.
    /// The first element is resolved: a path containing `/` relative to `Spec::base_dir`,
    /// otherwise looked up on `PATH` at validation time.
    pub command: Vec<String>,
    /// The first element of `command` resolved to an absolute executable path.
    pub program: PathBuf,
    /// Working directory of instances. Default `Spec::base_dir`; key `workdir`.
    pub workdir: PathBuf,
    /// Extra environment for instances (on top of shoal's own environment).
    pub env: BTreeMap<String, String>,
    /// How clients reach it through the gateway; `None` = not routed (e.g. a database).
    pub route: Option<RouteSpec>,
    pub instances: InstanceCounts,
    pub health: HealthSpec,
    pub stop: StopSpec,
    pub restart: RestartSpec,
    pub resources: ResourcesSpec,
    /// New instances ramp from a small share of traffic to their full share over this long. Default 10s;
    /// key `slow_start`. Zero disables the ramp.
    pub slow_start: Duration,
    /// `[services.NAME.autoscale]`; `None` = the count only changes by `shoal scale`.
    pub autoscale: Option<AutoscaleSpec>,
    /// `[services.NAME.deploy]`: how a new revision replaces the running one. Always present:
    /// without the table, [`DeploySpec::default`] (a rolling update, one extra instance at a time).
    pub deploy: DeploySpec,
    /// `logs = { max_size, keep }`: how much disk each instance's output may take. Always
    /// present: without the key, [`LogsSpec::default`].
    pub logs: LogsSpec,
    /// `tcp = "127.0.0.1:6380"` (or a table): a TCP listener in the gateway that balances
    /// connections over the healthy instances, for tiers that do not speak HTTP (Redis,
    /// PostgreSQL). `None` = no TCP listener. A service may have both this and a `route`.
    pub tcp: Option<TcpSpec>,
    /// `stateful = true` (with an optional `volume`): instances keep their identity and a
    /// persistent directory. `None` = instances are disposable.
    pub stateful: Option<StatefulSpec>,
    /// `depends_on = ["db"]`: the services that must have a healthy instance before this one's
    /// first instance starts, and that stop only after this one has stopped. Checked: every
    /// name exists, no cycles.
    pub depends_on: Vec<String>,
    /// `tags = ["primary"]`: free-form labels shown in the catalog (`/v1/catalog/...`), as
    /// Consul's service tags.
    pub tags: Vec<String>,
    /// `meta = { version = "7" }`: free-form key/values shown in the catalog, as Consul's
    /// service meta.
    pub meta: BTreeMap<String, String>,
}

/// `tcp = "ADDR"` or `tcp = { listen = "ADDR", max_connections = 1024, idle_timeout = "10m",
/// drain_quiet = "200ms" }`: the gateway's TCP listener for one service (HAProxy `mode tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSpec {
    /// Where clients connect, e.g. `127.0.0.1:6380`. Key `listen` (or the string itself).
    pub listen: SocketAddr,
    /// Open connections allowed to this service at once; more are refused at once (reset).
    /// Key `max_connections`. Default 1024; 1..=65536.
    pub max_connections: u32,
    /// A connection with no bytes either way this long is closed. Key `idle_timeout`.
    /// Default 10m.
    pub idle_timeout: Duration,
    /// When an instance leaves, each of its connections is closed once it has been quiet (no
    /// bytes either way) this long, so pooled request/response clients are never cut
    /// mid-reply. Key `drain_quiet`. Default 200ms.
    pub drain_quiet: Duration,
}

impl TcpSpec {
    /// The settings for a listener on `listen` with every other key at its default.
    pub fn on(listen: SocketAddr) -> Self {
        TcpSpec {
            listen,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(600),
            drain_quiet: Duration::from_millis(200),
        }
    }

    /// The address another program connects to: the listen address, with an unspecified IP
    /// (`0.0.0.0`, `::`) replaced by loopback.
    pub fn connect_address(&self) -> SocketAddr {
        connect_address(self.listen)
    }
}

/// `addr` as a client on this machine reaches it: an unspecified IP becomes loopback.
pub fn connect_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// `stateful = true`: stable identities (`db-1` stays `db-1` across crashes, restarts of shoal and
/// rollouts) and one persistent directory per identity, never deleted by shoal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatefulSpec {
    /// The directory that holds one sub-directory per instance identity (`<volumes>/db-1`).
    /// Key `volume`, resolved against the spec's directory; default
    /// `<data_dir>/volumes/<service>`.
    pub volumes: PathBuf,
}

impl StatefulSpec {
    /// The persistent directory of one identity (`{volume}` and `SHOAL_VOLUME`).
    pub fn volume_of(&self, instance_id: &str) -> PathBuf {
        self.volumes.join(instance_id)
    }
}

/// `logs = { max_size = "10MiB", keep = 3 }`: the bound on each instance's log files, so that a
/// chatty program can never fill the disk (PM2's most common complaint). The current file is
/// rotated when it would grow beyond `max_size`; the `keep` newest rotated files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogsSpec {
    /// Largest size of one log file, in bytes. Key `max_size` (a size such as `"10MiB"`).
    /// Default 10 MiB; at least [`LogsSpec::MIN_SIZE`].
    pub max_size: u64,
    /// Rotated files kept beside the current one (`web-1.log.1`, ...). Key `keep`. Default 3;
    /// 0 keeps only the current file; at most [`LogsSpec::MAX_KEEP`].
    pub keep: u32,
}

impl LogsSpec {
    /// Smaller files would rotate on nearly every line.
    pub const MIN_SIZE: u64 = 4 * 1024;
    /// More files than this are a sign of a typo; `max_size` is the knob for more history.
    pub const MAX_KEEP: u32 = 100;

    /// The most disk one instance's logs take: the current file plus `keep` rotated ones, each at
    /// most `max_size` (a single line longer than `max_size` gets a file of its own).
    pub fn disk_bound(&self) -> u64 {
        self.max_size.saturating_mul(u64::from(self.keep) + 1)
    }
}

/// The values used when `logs` is left out: `max_size = "10MiB"`, `keep = 3`.
impl Default for LogsSpec {
    fn default() -> Self {
        LogsSpec {
            max_size: 10 * 1024 * 1024,
            keep: 3,
        }
    }
}

/// `[services.NAME.deploy]`: how a new revision replaces the running one. The keys mean what the
/// same keys of Nomad's `update` block mean, so that their well-tested semantics carry over.
/// Defaults ([`DeploySpec::default`]) replace one instance at a time without ever dropping below
/// the desired count, and revert by themselves when the new revision does not become healthy.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploySpec {
    /// Key `strategy`: `"rolling"` (the default) replaces instances; `"canary"` also moves traffic
    /// to the new revision by weight, step by step.
    pub strategy: Strategy,
    /// Extra instances allowed above the desired count during a rollout. Key `max_surge`.
    /// Default 1.
    pub max_surge: u32,
    /// Instances allowed below the desired count (not ready) during a rollout. Key
    /// `max_unavailable`. Default 0. Never 0 together with `max_surge`: a rollout could then
    /// neither start a new instance first nor stop an old one first.
    pub max_unavailable: u32,
    /// A new instance must stay healthy this long to count as updated (so that one that passes a
    /// check and then crashes does not). Key `min_healthy_time`. Default 5s.
    pub min_healthy_time: Duration,
    /// A new instance that is not updated (healthy for `min_healthy_time`) this long after it was
    /// created fails the rollout. Key `healthy_deadline`. Default 5m; always longer than
    /// `min_healthy_time`.
    pub healthy_deadline: Duration,
    /// The rollout fails when no new instance became updated for this long (each one that does
    /// resets it). Key `progress_deadline`. Default 10m; greater than zero and never shorter than
    /// `healthy_deadline` (Nomad's rule: otherwise a slow but healthy instance would fail the
    /// whole rollout before its own deadline).
    pub progress_deadline: Duration,
    /// On failure, go back to the last stable revision without waiting for an operator. Key
    /// `auto_revert`. Default true.
    pub auto_revert: bool,
    /// Set for stateful services (not a key): instances have identities, so a rollout replaces
    /// the highest identity first and a scale-in removes the highest, like a StatefulSet.
    /// Compiled with `max_surge = 0`: two instances of one identity never run at once.
    pub ordered: bool,
}

/// How a rollout moves from the running revision to the new one.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `strategy = "rolling"`: instances are replaced within `max_surge` / `max_unavailable`;
    /// traffic follows whichever instances are ready.
    Rolling,
    /// `strategy = "canary"`: traffic moves to the new revision by weight (see [`CanarySpec`]).
    Canary(CanarySpec),
}

/// The pin header used when `header` is left out of a canary deploy table.
pub const DEFAULT_PIN_HEADER: &str = "x-shoal-revision";

/// `strategy = "canary"`: traffic moves to the new revision by weight, step by step, watched by
/// analysis (error rate, latency), which rolls it back when it fails too often.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySpec {
    /// Key `steps`, an array of inline tables (or `[[services.NAME.deploy.steps]]`). Required with
    /// `strategy = "canary"`; at least one step; weights strictly increasing.
    pub steps: Vec<CanaryStep>,
    /// The header that pins a request to one revision regardless of the weights (to try the
    /// canary by hand, or keep a client on one revision). Key `header`. Default
    /// [`DEFAULT_PIN_HEADER`]. Always a valid HTTP header name (token characters), stored
    /// lower-case so that it compares directly with normalised header names.
    pub pin_header: String,
    /// Key `analysis`, an inline table (or `[services.NAME.deploy.analysis]`); every key optional.
    pub analysis: AnalysisSpec,
}

/// One step of a canary: a traffic share and how long to hold it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryStep {
    /// Percent of requests sent to the canary, 1..=100. Key `weight` (an integer).
    pub weight: u32,
    /// How long to stay at this step. Key `pause`. `None` (absent) = wait for `shoal promote`;
    /// `Some(ZERO)` (`"0s"`) = go on at once.
    pub pause: Option<Duration>,
}

/// `analysis = { ... }`: how the canary is judged while it takes traffic. Defaults:
/// [`AnalysisSpec::default`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisSpec {
    /// How often the canary is judged. Key `interval`. Default 10s; greater than zero.
    pub interval: Duration,
    /// Share of 5xx responses allowed, a fraction in 0.0..=1.0 (0.05 = 5 %, not a percent). Key
    /// `max_error_rate`. Default 0.05.
    pub max_error_rate: f64,
    /// p99 latency allowed. Key `max_p99`. `None` (the default) = latency is not checked; never
    /// zero.
    pub max_p99: Option<Duration>,
    /// Failed checks before the canary is rolled back (so that one bad interval is not enough).
    /// Key `failure_limit`. Default 3; at least 1.
    pub failure_limit: u32,
    /// A check with fewer canary requests than this is inconclusive (neither pass nor fail): a
    /// handful of requests says nothing about an error rate. Key `min_requests`. Default 10.
    pub min_requests: u64,
}

/// `[services.NAME.autoscale]`: how the instance count follows load. Defaults react within about
/// two seconds and never flap (see each field).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscaleSpec {
    /// One or more metrics; with several, the largest proposal wins (the safest). Written either
    /// as `metric = "cpu"` + `target = 70` in the table, or as `[[services.NAME.autoscale.metrics]]`
    /// tables with the same two keys (plus `url`/`query` for prometheus).
    pub metrics: Vec<MetricTarget>,
    /// Relative deviation from the target ignored before scaling up. Key `tolerance_up`, or
    /// `tolerance` for both directions. Default 0.1 (as the HPA).
    pub tolerance_up: f64,
    /// Same for scaling down. Key `tolerance_down`. Default 0.1.
    pub tolerance_down: f64,
    /// Window over which concurrency/rps are averaged for the stable decision (Knative). Key
    /// `stable_window`. Default 60s.
    pub stable_window: Duration,
    /// Short window for panic mode (Knative). Key `panic_window`. Default 6s; must be < stable_window.
    pub panic_window: Duration,
    /// Panic when the panic-window proposal is at least this multiple of current ready instances.
    /// Key `panic_threshold`. Default 2.0, > 1.
    pub panic_threshold: f64,
    /// Share of the per-instance target actually aimed at for concurrency/rps (Knative's target
    /// utilisation). Key `target_utilization`. Default 0.7, in (0, 1].
    pub target_utilization: f64,
    /// The largest proposal over this window is used for scaling down (HPA stabilization). Key
    /// `scale_down_stabilization`. Default 60s.
    pub scale_down_stabilization: Duration,
    /// Minimum time between two scale-ups. Key `scale_up_cooldown`. Default 0s.
    pub scale_up_cooldown: Duration,
    /// Minimum time after any change before a scale-down. Key `scale_down_cooldown`. Default 10s.
    pub scale_down_cooldown: Duration,
    /// Scale-up rate limit: per `period`, add at most max(`instances`, `percent`% of current).
    /// Key `scale_up_limit = { instances = 4, percent = 100, period = "1s" }` (the defaults).
    pub scale_up_limit: RateLimit,
    /// Scale-down rate limit, same shape. Default `{ instances = 1, percent = 50, period = "2s" }`
    /// … the larger of the two bounds applies, as in the HPA's `selectPolicy: Max`.
    pub scale_down_limit: RateLimit,
    /// A new instance's metrics are left out of averages for this long after it became ready
    /// (CPU of a starting JIT, cold caches). Key `warmup`. Default 5s.
    pub warmup: Duration,
    /// With `instances.min = 0`: go to zero after this long without a request. Key `idle`.
    /// Default 30s.
    pub idle: Duration,
    /// How long the gateway holds a request while the first instance starts from zero; then 503
    /// with `Retry-After`. Key `cold_start_timeout`. Default 30s.
    pub cold_start_timeout: Duration,
    /// Requests held at once while scaling from zero; more get 503 at once. Key `cold_start_queue`.
    /// Default 1000.
    pub cold_start_queue: usize,
}

/// One metric and the value per instance it aims for.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTarget {
    pub metric: Metric,
    /// cpu/memory: percent of `resources` (e.g. 70); concurrency: in-flight requests per instance;
    /// rps: requests/s per instance; connections: open TCP connections per instance; latency_p95: milliseconds; prometheus: the query's value per
    /// instance. Always > 0.
    pub target: f64,
}

/// What an autoscaler watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// CPU utilisation, percent of `resources.cpu`, averaged over ready instances.
    Cpu,
    /// Memory, percent of `resources.memory` (which must then be set), averaged.
    Memory,
    /// Requests in flight per instance (Knative KPA).
    Concurrency,
    /// Requests per second per instance (Knative KPA).
    Rps,
    /// Open TCP connections per instance through the service's `tcp` listener (KPA windows,
    /// like concurrency). Only for services with `tcp`.
    Connections,
    /// Gateway p95 latency in ms, target tracking.
    LatencyP95,
    /// A PromQL query's value; keys `url` (Prometheus base URL) and `query`.
    Prometheus { url: String, query: String },
}

/// A scaling rate limit (HPA `policies`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub instances: u32,
    pub percent: f64,
    pub period: Duration,
}

impl AutoscaleSpec {
    /// An autoscaler for `metrics` with every other key at its default: the values used for
    /// keys left out of `[services.NAME.autoscale]`.
    pub fn with_metrics(metrics: Vec<MetricTarget>) -> Self {
        AutoscaleSpec {
            metrics,
            tolerance_up: 0.1,
            tolerance_down: 0.1,
            stable_window: Duration::from_secs(60),
            panic_window: Duration::from_secs(6),
            panic_threshold: 2.0,
            target_utilization: 0.7,
            scale_down_stabilization: Duration::from_secs(60),
            scale_up_cooldown: Duration::ZERO,
            scale_down_cooldown: Duration::from_secs(10),
            scale_up_limit: RateLimit {
                instances: 4,
                percent: 100.0,
                period: Duration::from_secs(1),
            },
            scale_down_limit: RateLimit {
                instances: 1,
                percent: 50.0,
                period: Duration::from_secs(2),
            },
            warmup: Duration::from_secs(5),
            idle: Duration::from_secs(30),
            cold_start_timeout: Duration::from_secs(30),
            cold_start_queue: 1000,
        }
    }
}

impl Metric {
    /// The name written in the spec (`metric = "cpu"`), also used in status and decisions.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Concurrency => "concurrency",
            Metric::Rps => "rps",
            Metric::Connections => "connections",
            Metric::LatencyP95 => "latency_p95",
            Metric::Prometheus { .. } => "prometheus",
        }
    }
}

/// Which requests belong to a service: optional exact host (port ignored), longest path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Lower-cased host without port; `None` matches any host. Key `host`.
    pub host: Option<String>,
    /// Starts with `/`. Key `route`. A prefix matches at segment boundaries: `/api` matches `/api`
    /// and `/api/x`, not `/apix`. `/` matches everything. Never ends with `/` except for `/`
    /// itself (`route = "/api/"` compiles to `/api`).
    pub path_prefix: String,
}

/// `instances = { min, desired, max }` with `min <= desired <= max` and `max >= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceCounts {
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

/// `health = { ... }`: how an instance earns and loses traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSpec {
    pub check: HealthCheck,
    /// Default 2s.
    pub interval: Duration,
    /// Default 1s. Always `< interval`.
    pub timeout: Duration,
    /// Consecutive passes before a starting/unhealthy instance gets traffic. Default 2, >= 1.
    pub healthy_threshold: u32,
    /// Consecutive failures before a healthy instance loses traffic. Default 3, >= 1.
    pub unhealthy_threshold: u32,
    /// Restart an instance that has been unhealthy (or never became healthy) this long.
    /// Default 60s; key `restart_after`; `"0s"`/absent-with-`"never"` disables (`None`).
    pub restart_after: Option<Duration>,
}

/// The kind of active check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// `GET path` must answer 2xx or 3xx. Key `path` (default `/` for routed services).
    Http { path: String },
    /// A TCP connect must succeed. `health = { tcp = true }`; the default for unrouted services.
    Tcp,
    /// A protocol probe: connect, write `send` (if any), and pass once the answer contains
    /// `expect` (`health = { send = "PING\r\n", expect = "+PONG" }`).
    Expect {
        /// Bytes written after connecting. Key `send`; may be empty (a banner protocol).
        send: String,
        /// Bytes the answer must contain. Key `expect`; never empty.
        expect: String,
    },
    /// A program run with `{port}` substituted in its argv; exit status 0 passes, anything else
    /// (or running past `timeout`, when it is killed) fails. Never run through a shell.
    Exec {
        /// argv as written (`{port}` placeholders). Key `exec`.
        argv: Vec<String>,
        /// The first element resolved to an executable, as for `command`.
        program: PathBuf,
    },
}

/// `stop = { drain, timeout }`: DESIGN principle 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSpec {
    /// Longest wait for in-flight requests after leaving the selector. Default 10s.
    pub drain: Duration,
    /// SIGTERM → SIGKILL grace. Default 10s.
    pub timeout: Duration,
}

/// `restart = { backoff, max_backoff }`: crash-loop pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSpec {
    /// First delay after a crash. Default 100ms; doubles per consecutive crash.
    pub backoff: Duration,
    /// Cap. Default 30s. An instance that stays up 30s resets the streak.
    pub max_backoff: Duration,
}

/// `resources = { cpu, memory }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourcesSpec {
    /// Cores (0.5 = half a core). Default 1.0. The base of CPU utilisation.
    pub cpu: f64,
    /// Bytes. `None` = no limit.
    pub memory: Option<u64>,
}

impl ServiceSpec {
    /// The service's argv with `{port}` substituted for one instance.
    pub fn argv_for_port(&self, port: u16) -> Vec<String> {
        argv_with_port(&self.command, port)
    }
}

/// The values used for keys left out of `[gateway]`.
impl Default for GatewaySpec {
    fn default() -> Self {
        GatewaySpec {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            retry_budget: 0.2,
            threads: None,
        }
    }
}

/// The values used for keys left out of `stop`.
impl Default for StopSpec {
    fn default() -> Self {
        StopSpec {
            drain: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The values used for keys left out of `restart`.
impl Default for RestartSpec {
    fn default() -> Self {
        RestartSpec {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The values used for keys left out of `resources`.
impl Default for ResourcesSpec {
    fn default() -> Self {
        ResourcesSpec {
            cpu: 1.0,
            memory: None,
        }
    }
}

/// The values used for keys left out of `[services.NAME.deploy]` (and when it is absent): a
/// rolling update with `max_surge = 1`, `max_unavailable = 0`, `min_healthy_time = "5s"`,
/// `healthy_deadline = "5m"`, `progress_deadline = "10m"` and `auto_revert = true`.
impl Default for DeploySpec {
    fn default() -> Self {
        DeploySpec {
            strategy: Strategy::Rolling,
            max_surge: 1,
            max_unavailable: 0,
            min_healthy_time: Duration::from_secs(5),
            healthy_deadline: Duration::from_secs(5 * 60),
            progress_deadline: Duration::from_secs(10 * 60),
            auto_revert: true,
            ordered: false,
        }
    }
}

/// The values used for keys left out of `analysis`: `interval = "10s"`, `max_error_rate = 0.05`,
/// no `max_p99`, `failure_limit = 3`, `min_requests = 10`.
impl Default for AnalysisSpec {
    fn default() -> Self {
        AnalysisSpec {
            interval: Duration::from_secs(10),
            max_error_rate: 0.05,
            max_p99: None,
            failure_limit: 3,
            min_requests: 10,
        }
    }
}

/// `command` with `{port}` substituted in every element: how any argv of the spec (the service's,
/// or a stored revision's) becomes one instance's argv.
pub fn argv_with_port(command: &[String], port: u16) -> Vec<String> {
    let port = port.to_string();
    command.iter().map(|a| a.replace("{port}", &port)).collect()
}
