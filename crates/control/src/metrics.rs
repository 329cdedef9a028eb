//! `/metrics` (Prometheus, OpenMetrics text format) and `/v1/discovery/prometheus`
//! (`http_sd_configs`).
//!
//! Every scrape copies what it needs out of the registry (one short lock) and the gateway's
//! counters (relaxed atomic loads) into a [`Scrape`], then renders that with prometheus-client's
//! collector interface. Nothing is registered ahead of time, so a removed instance or service has
//! no series at the next scrape, and no value can go stale. Counters come from counts that only
//! grow (the gateway's per-service and per-revision counters, restarts, scaling decisions), so
//! `rate()` works on them; gauges are the state at scrape time.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use shoal_spec::connect_address;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use serde::Serialize;
use shoal_gateway::{ClassCounts, Totals, UpstreamError, DURATION_BUCKETS, STATUS_CLASSES};

use crate::registry::{InstanceState, Registry, ServiceRecord};
use crate::AdminState;

/// What Prometheus is told it gets: the OpenMetrics text format prometheus-client writes (its
/// `info` type and `# EOF` are not part of the older `text/plain; version=0.0.4`).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The five instance states, in the order of [`ServiceScrape::states`]: every one is reported,
/// zeros included, so a dashboard's series do not come and go with the states.
const STATES: [InstanceState; 5] = [
    InstanceState::Starting,
    InstanceState::Healthy,
    InstanceState::Unhealthy,
    InstanceState::Draining,
    InstanceState::Stopped,
];

/// The rollout strategies, each reported per service (0 or 1).
const STRATEGIES: [&str; 2] = ["rolling", "canary"];

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let body = render(Scrape::of(state.controller.registry()));
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// `GET /v1/discovery/prometheus`: the targets for a Prometheus `http_sd_configs` job.
pub(crate) async fn discovery(State(state): State<AdminState>) -> impl IntoResponse {
    let admin = connect_address(state.controller.spec().admin.listen);
    Json(targets(state.controller.registry(), admin))
}

/// Everything one scrape reports, copied out of the registry and the gateway.
#[derive(Debug)]
pub(crate) struct Scrape {
    services: Vec<ServiceScrape>,
}

#[derive(Debug)]
struct ServiceScrape {
    name: String,
    desired: u32,
    min: u32,
    max: u32,
    fail_open: bool,
    /// The revision the service runs (during a rollout, the one being replaced).
    revision: u64,
    /// The rollout in progress: its strategy and the revision it rolls out.
    rollout: Option<(&'static str, u64)>,
    /// Canary weight, percent (0 without a canary).
    canary_weight: u32,
    scale_ups: u64,
    scale_downs: u64,
    /// Instances per state, in the order of [`STATES`].
    states: [u32; 5],
    instances: Vec<InstanceScrape>,
    /// Routed services only: what the gateway counted.
    gateway: Option<GatewayScrape>,
    /// Services with a TCP listener: its counters.
    tcp: Option<shoal_gateway::TcpStatsSnapshot>,
}

#[derive(Debug)]
struct InstanceScrape {
    id: String,
    revision: String,
    restarts: u32,
    cpu_ratio: Option<f64>,
    memory_bytes: Option<u64>,
    /// TCP connections open to it (services with a TCP listener).
    connections: Option<usize>,
}

#[derive(Debug)]
struct GatewayScrape {
    /// Responses relayed from instances, by revision (as a label value).
    by_revision: Vec<(String, ClassCounts)>,
    totals: Totals,
    in_flight: usize,
    waiting: u32,
}

impl Scrape {
    /// A copy of what `registry` knows now.
    pub(crate) fn of(registry: &Registry) -> Scrape {
        let services = registry.with_services(|services| {
            services
                .iter()
                .map(|(name, svc)| ServiceScrape::of(name, svc))
                .collect()
        });
        Scrape { services }
    }
}

impl ServiceScrape {
    fn of(name: &str, svc: &ServiceRecord) -> ServiceScrape {
        let mut states = [0u32; 5];
        for r in svc.instances.values() {
            states[STATES.iter().position(|s| *s == r.state).unwrap_or(4)] += 1;
        }
        let instances = svc
            .instances
            .values()
            .map(|r| InstanceScrape {
                id: r.id.clone(),
                revision: r.revision.to_string(),
                restarts: r.restarts,
                cpu_ratio: r.cpu_percent.map(|p| p / 100.0),
                memory_bytes: r.memory_bytes,
                connections: svc
                    .tier
                    .tcp
                    .map(|_| r.endpoint.as_ref().map_or(0, |e| e.open_connections())),
            })
            .collect();
        let gateway = svc.route.as_ref().map(|_| GatewayScrape {
            by_revision: svc
                .responses
                .iter()
                .map(|(rev, counts)| (rev.to_string(), counts.snapshot()))
                .collect(),
            totals: svc.stats.totals(),
            in_flight: svc
                .instances
                .values()
                .filter_map(|r| r.endpoint.as_ref())
                .map(|e| e.outstanding())
                .sum(),
            waiting: svc.stats.waiting(),
        });
        let canary_weight = svc
            .rollout
            .as_ref()
            .and_then(|r| r.canary_weight)
            .or_else(|| svc.split.as_ref().map(|s| s.weight))
            .unwrap_or(0);
        ServiceScrape {
            name: name.to_string(),
            desired: svc.desired,
            min: svc.min,
            max: svc.max,
            fail_open: svc.fail_open,
            revision: svc.revision,
            rollout: svc.rollout.as_ref().map(|r| (r.strategy, r.revision)),
            canary_weight,
            scale_ups: svc.scale_ups,
            scale_downs: svc.scale_downs,
            states,
            instances,
            gateway,
            tcp: svc.tier.tcp.map(|_| svc.tcp_stats.snapshot()),
        }
    }
}

/// The scrape in the OpenMetrics text format.
pub(crate) fn render(scrape: Scrape) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(ScrapeCollector(scrape)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

/// Renders one [`Scrape`] (prometheus-client's collectors must own what they encode).
#[derive(Debug)]
struct ScrapeCollector(Scrape);

type Fmt = Result<(), std::fmt::Error>;

/// One gauge family.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (L, V)>,
) -> Fmt {
    let mut family = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// One counter family; `name` without `_total` (the encoder adds it).
fn counters<L: EncodeLabelSet, V: EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, V)>,
) -> Fmt {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

impl Collector for ScrapeCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let services = &self.0.services;
        let svc = |s: &ServiceScrape| [("service", s.name.clone())];
        let ratio = Unit::Other("ratio".into());

        enc.encode_descriptor(
            "shoal_build",
            "shoal's version; always 1",
            None,
            MetricType::Info,
        )?
        .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;

        // Services: counts, bounds, state of rollouts, scaling.
        gauges(
            &mut enc,
            "shoal_service_desired_instances",
            "Instances wanted now (spec, scale or autoscaler)",
            None,
            services.iter().map(|s| (svc(s), s.desired)),
        )?;
        gauges(
            &mut enc,
            "shoal_service_min_instances",
            "Lower bound of the instance count (instances.min)",
            None,
            services.iter().map(|s| (svc(s), s.min)),
        )?;
        gauges(
            &mut enc,
            "shoal_service_max_instances",
            "Upper bound of the instance count (instances.max)",
            None,
            services.iter().map(|s| (svc(s), s.max)),
        )?;
        gauges(
            &mut enc,
            "shoal_service_instances",
            "Instances by lifecycle state (every state, zeros included)",
            None,
            services.iter().flat_map(|s| {
                STATES.iter().zip(s.states).map(|(state, n)| {
                    (
                        [
                            ("service", s.name.clone()),
                            ("state", state.as_str().into()),
                        ],
                        n,
                    )
                })
            }),
        )?;
        gauges(
            &mut enc,
            "shoal_service_fail_open",
            "1 while no instance is healthy and the gateway routes to unhealthy ones",
            None,
            services.iter().map(|s| (svc(s), u32::from(s.fail_open))),
        )?;
        gauges(
            &mut enc,
            "shoal_service_active_revision",
            "The revision the service runs (during a rollout: the one being replaced)",
            None,
            services.iter().map(|s| (svc(s), s.revision)),
        )?;
        gauges(
            &mut enc,
            "shoal_rollout_in_progress",
            "1 while a rollout of this strategy is in progress",
            None,
            services.iter().flat_map(|s| {
                STRATEGIES.iter().map(|strategy| {
                    let on = s.rollout.is_some_and(|(st, _)| st == *strategy);
                    (
                        [
                            ("service", s.name.clone()),
                            ("strategy", strategy.to_string()),
                        ],
                        u32::from(on),
                    )
                })
            }),
        )?;
        gauges(
            &mut enc,
            "shoal_rollout_target_revision",
            "The revision being rolled out (the active one when no rollout runs)",
            None,
            services
                .iter()
                .map(|s| (svc(s), s.rollout.map_or(s.revision, |(_, rev)| rev))),
        )?;
        gauges(
            &mut enc,
            "shoal_canary_weight",
            "Share of requests sent to the canary revision (0 without a canary)",
            Some(&ratio),
            services
                .iter()
                .map(|s| (svc(s), f64::from(s.canary_weight) / 100.0)),
        )?;
        counters(
            &mut enc,
            "shoal_scaling_decisions",
            "Autoscaler decisions that changed the desired count, by direction",
            services.iter().flat_map(|s| {
                [("up", s.scale_ups), ("down", s.scale_downs)].map(|(direction, n)| {
                    (
                        [("service", s.name.clone()), ("direction", direction.into())],
                        n,
                    )
                })
            }),
        )?;

        // Instances.
        let instances = || {
            services.iter().flat_map(|s| {
                s.instances.iter().map(move |i| {
                    let labels = [
                        ("service", s.name.clone()),
                        ("instance", i.id.clone()),
                        ("revision", i.revision.clone()),
                    ];
                    (labels, i)
                })
            })
        };
        counters(
            &mut enc,
            "shoal_instance_restarts",
            "Restarts of the instance after a crash or failed health",
            instances().map(|(l, i)| (l, u64::from(i.restarts))),
        )?;
        gauges(
            &mut enc,
            "shoal_instance_cpu_utilization",
            "CPU used over the last second, as a share of the instance's CPU limit (resources.cpu, one core without one)",
            Some(&ratio),
            instances().filter_map(|(l, i)| i.cpu_ratio.map(|c| (l, c))),
        )?;
        gauges(
            &mut enc,
            "shoal_instance_memory",
            "Memory the instance uses",
            Some(&Unit::Bytes),
            instances().filter_map(|(l, i)| i.memory_bytes.map(|m| (l, m))),
        )?;

        // The gateway, for routed services.
        let routed = || {
            services
                .iter()
                .filter_map(|s| s.gateway.as_ref().map(|g| (s, g)))
        };
        counters(
            &mut enc,
            "shoal_gateway_requests",
            "Responses sent to clients, by the revision of the instance that answered (\"\" when the gateway answered itself: 502, 503, 504) and status class",
            routed().flat_map(|(s, g)| {
                let gateway = (String::new(), g.totals.gateway_answers);
                g.by_revision
                    .iter()
                    .chain(std::iter::once(&gateway))
                    .flat_map(move |(revision, counts)| {
                        STATUS_CLASSES.iter().zip(*counts).map(move |(code, n)| {
                            let labels = [
                                ("service", s.name.clone()),
                                ("revision", revision.clone()),
                                ("code", code.to_string()),
                            ];
                            (labels, n)
                        })
                    })
                    .collect::<Vec<_>>()
            }),
        )?;
        let mut family = enc.encode_descriptor(
            "shoal_gateway_request_duration",
            "Time from a request's arrival to its response headers, including retries and waits",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (s, g) in routed() {
            let t = &g.totals;
            let buckets: Vec<(f64, u64)> = DURATION_BUCKETS
                .iter()
                .copied()
                .chain(std::iter::once(f64::MAX))
                .zip(t.duration_buckets)
                .collect();
            let count = t.duration_buckets.iter().sum();
            family
                .encode_family(&svc(s))?
                .encode_histogram::<NoLabelSet>(t.duration_sum_seconds, count, &buckets, None)?;
        }
        gauges(
            &mut enc,
            "shoal_gateway_requests_in_flight",
            "Requests sent to instances whose response has not finished streaming",
            None,
            routed().map(|(s, g)| (svc(s), g.in_flight)),
        )?;
        gauges(
            &mut enc,
            "shoal_gateway_requests_waiting",
            "Requests held for a first instance (scale from zero)",
            None,
            routed().map(|(s, g)| (svc(s), g.waiting)),
        )?;
        counters(
            &mut enc,
            "shoal_gateway_upstream_errors",
            "Failed attempts on an instance: connect (refused or timed out, nothing sent), timeout (no response headers in time), transport (failed after sending)",
            routed().flat_map(|(s, g)| {
                UpstreamError::ALL
                    .iter()
                    .zip(g.totals.upstream_errors)
                    .map(|(kind, n)| {
                        (
                            [("service", s.name.clone()), ("kind", kind.as_str().into())],
                            n,
                        )
                    })
            }),
        )?;
        counters(
            &mut enc,
            "shoal_gateway_retries",
            "Attempts on another instance after a failed one",
            routed().map(|(s, g)| (svc(s), g.totals.retries)),
        )?;
        encode_tcp(&mut enc, services)
    }
}

/// Reads one counter of a TCP listener's snapshot.
type TcpCounter = fn(&shoal_gateway::TcpStatsSnapshot) -> u64;

/// The TCP listeners' families: connections open, accepted, refused, unserved, failed connects
/// and bytes, per service; open connections per instance.
fn encode_tcp(enc: &mut DescriptorEncoder, services: &[ServiceScrape]) -> Fmt {
    let svc = |s: &ServiceScrape| [("service", s.name.clone())];
    let tcp = || {
        services
            .iter()
            .filter_map(|s| s.tcp.as_ref().map(|t| (s, t)))
    };
    gauges(
        enc,
        "shoal_tcp_connections_open",
        "Client connections open through the service's TCP listener",
        None,
        tcp().map(|(s, t)| (svc(s), t.open as u64)),
    )?;
    let families: [(&str, &str, TcpCounter); 4] = [
        (
            "shoal_tcp_connections_accepted",
            "Client connections taken in to be relayed",
            |t| t.accepted_total,
        ),
        (
            "shoal_tcp_connections_refused",
            "Client connections reset at once because a connection cap was reached",
            |t| t.refused_total,
        ),
        (
            "shoal_tcp_connections_unserved",
            "Accepted client connections closed because no instance could take them",
            |t| t.no_instance_total,
        ),
        (
            "shoal_tcp_connect_failures",
            "Connects to instances that failed (each retried on another instance when there was one)",
            |t| t.connect_failures_total,
        ),
    ];
    for (name, help, value) in families {
        counters(enc, name, help, tcp().map(|(s, t)| (svc(s), value(t))))?;
    }
    counters(
        enc,
        "shoal_tcp_transferred_bytes",
        "Bytes relayed by the TCP listener: in = from clients to instances, out = back to clients",
        tcp().flat_map(|(s, t)| {
            [
                ("in", t.bytes_from_clients_total),
                ("out", t.bytes_to_clients_total),
            ]
            .map(|(direction, n)| {
                (
                    [("service", s.name.clone()), ("direction", direction.into())],
                    n,
                )
            })
        }),
    )?;
    gauges(
        enc,
        "shoal_instance_tcp_connections",
        "TCP connections open to the instance through its service's listener",
        None,
        services.iter().flat_map(|s| {
            s.instances.iter().filter_map(move |i| {
                let labels = [
                    ("service", s.name.clone()),
                    ("instance", i.id.clone()),
                    ("revision", i.revision.clone()),
                ];
                i.connections.map(|c| (labels, c as u64))
            })
        }),
    )
}

/// One `http_sd_configs` target group.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct TargetGroup {
    targets: Vec<String>,
    labels: BTreeMap<&'static str, String>,
}

/// shoal itself (labelled `job="shoal"`), then every instance whose process runs and has a port
/// (labelled `service`, `revision`, `instance`). `service` is not used for shoal's own target: as
/// a target label it would displace the `service` label of shoal's own series.
pub(crate) fn targets(registry: &Registry, admin: SocketAddr) -> Vec<TargetGroup> {
    let mut groups = vec![TargetGroup {
        targets: vec![admin.to_string()],
        labels: BTreeMap::from([
            ("job", "shoal".to_string()),
            ("__metrics_path__", "/metrics".to_string()),
        ]),
    }];
    for svc in registry.status().services {
        for i in &svc.instances {
            let (Some(port), true) = (i.port, i.state != InstanceState::Stopped) else {
                continue;
            };
            groups.push(TargetGroup {
                targets: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string()],
                labels: BTreeMap::from([
                    ("service", svc.name.clone()),
                    ("revision", i.revision.to_string()),
                    ("instance", i.id.clone()),
                    ("__metrics_path__", "/metrics".to_string()),
                    ("__meta_shoal_routed", svc.route.is_some().to_string()),
                ]),
            });
        }
    }
    groups
}

#[cfg(test)]
mod tests;
