//! The observation loop of one service: every second, read the gateway's traffic (requests/s,
//! in-flight, latency quantiles, error rate) and each instance's CPU and memory, publish them in
//! the registry (status, later metrics), and — for autoscaled services — ask the pure policy
//! (`shoal-scaler`) for a decision, apply it, and record it as an event with its reason. A request
//! waiting on a service at zero wakes the loop at once, so a cold start does not wait for a tick.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_gateway::{ServiceStats, StatsSnapshot};
use shoal_scaler::{Autoscaler, InstanceSample, Observation};
use shoal_spec::ServiceSpec;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::promql::PromClient;
use crate::registry::{InstanceState, Traffic};
use crate::Context;

/// Observation period (the policy's tick).
const TICK: Duration = Duration::from_secs(1);
/// Longest wait for one Prometheus query (the tick is one second).
const PROMETHEUS_TIMEOUT: Duration = Duration::from_millis(800);
/// In-flight requests are sampled this often and averaged over the tick.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Runs until `shutdown` turns true.
pub(crate) async fn run(
    ctx: Arc<Context>,
    mut config: watch::Receiver<Arc<ServiceSpec>>,
    stats: Arc<ServiceStats>,
    desired: watch::Sender<u32>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut spec = config.borrow_and_update().clone();
    let service = spec.name.clone();
    let service = service.as_str();
    let epoch = Instant::now();
    let policy_for = |spec: &ServiceSpec| {
        spec.autoscale
            .as_ref()
            .map(|auto| Autoscaler::new(auto, spec.instances.min, spec.instances.max))
    };
    let mut policy = policy_for(&spec);
    let mut last_applied = *desired.borrow();
    let prometheus = PromClient::new();
    // Queries that failed at the last tick (an event when one starts failing or recovers).
    let mut failing: BTreeMap<String, String> = BTreeMap::new();
    // The starting count counts as a decision: no scale-down before traffic has had a chance.
    if let Some(policy) = policy.as_mut() {
        policy.reset(last_applied, Duration::ZERO);
    }
    let mut previous = stats.snapshot();
    let mut previous_at = Instant::now();
    // (requests in flight, TCP connections open) a few times per tick.
    let mut load_samples: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut next_tick = Instant::now() + TICK;

    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            // A request is waiting on a service with no instance: decide now.
            _ = stats.wake.notified() => {}
            _ = tokio::time::sleep(SAMPLE_EVERY) => {
                load_samples.push(ctx.registry.load(service));
                if Instant::now() < next_tick {
                    continue;
                }
            }
        }
        if *shutdown.borrow() {
            return;
        }
        next_tick = Instant::now() + TICK;
        let now = Instant::now();
        let current = *desired.borrow();
        if config.has_changed().unwrap_or(false) {
            // `apply` changed the service: a changed autoscaler starts over from the count in force.
            let next = config.borrow_and_update().clone();
            if next.autoscale != spec.autoscale || next.instances != spec.instances {
                policy = policy_for(&next);
                if let Some(policy) = policy.as_mut() {
                    policy.reset(current, now.duration_since(epoch));
                }
            }
            spec = next;
        }
        if current != last_applied {
            // `shoal scale` by hand: continue from the count it set.
            if let Some(policy) = policy.as_mut() {
                policy.reset(current, now.duration_since(epoch));
            }
            last_applied = current;
        }

        let counts = stats.snapshot();
        let delta: StatsSnapshot = counts.since(&previous);
        let elapsed = now.duration_since(previous_at).as_secs_f64().max(0.001);
        previous = counts;
        previous_at = now;
        if load_samples.is_empty() {
            load_samples.push(ctx.registry.load(service));
        }
        let concurrency = average(load_samples.iter().map(|s| s.0));
        let connections = average(load_samples.iter().map(|s| s.1));
        load_samples.clear();

        let latency = stats.take_latency();
        let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        let responses = delta.responses();
        ctx.registry.record_traffic(
            service,
            Traffic {
                rps: (delta.requests as f64 / elapsed * 10.0).round() / 10.0,
                inflight: (concurrency * 10.0).round() / 10.0,
                p50_ms: latency.map(|l| ms(l.p50)),
                p95_ms: latency.map(|l| ms(l.p95)),
                p99_ms: latency.map(|l| ms(l.p99)),
                error_rate: (responses > 0).then(|| delta.responses_5xx as f64 / responses as f64),
            },
        );
        let Some(policy) = policy.as_mut() else {
            continue;
        };
        let observation = Observation {
            now: now.duration_since(epoch),
            instances: samples(&ctx, service, &spec, now),
            desired: current,
            concurrency: Some(concurrency),
            rps: Some(delta.requests as f64 / elapsed),
            connections: spec.tcp.map(|_| connections),
            latency_p95_ms: latency.map(|l| l.p95.as_secs_f64() * 1000.0),
            prometheus: query_prometheus(&ctx, service, &spec, &prometheus, &mut failing).await,
            last_request: stats
                .last_request()
                .map(|t| t.saturating_duration_since(epoch)),
            waiting: stats.waiting(),
        };
        let decision = policy.decide(&observation);
        if decision.changed {
            let from = current;
            let to = decision.desired;
            ctx.registry.set_desired(service, to);
            desired.send_replace(to);
            last_applied = to;
            let values: Vec<String> = decision
                .proposals
                .iter()
                .map(|p| match p.value {
                    Some(v) => format!("{}={v:.1}", p.metric),
                    None => format!("{}=n/a", p.metric),
                })
                .collect();
            ctx.registry.event(
                service,
                None,
                if to > from { "scale_up" } else { "scale_down" },
                format!("{service}: {} [{}]", decision.reason, values.join(" ")),
            );
        }
    }
}

/// The value of each `metric = "prometheus"` query of the service, now. A query that fails is
/// left out (the policy then holds the count for it) and reported once, as is its recovery.
async fn query_prometheus(
    ctx: &Context,
    service: &str,
    spec: &ServiceSpec,
    client: &PromClient,
    failing: &mut BTreeMap<String, String>,
) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    let Some(auto) = &spec.autoscale else {
        return values;
    };
    for m in &auto.metrics {
        let shoal_spec::Metric::Prometheus { url, query } = &m.metric else {
            continue;
        };
        match client.query(url, query, PROMETHEUS_TIMEOUT).await {
            Ok(v) => {
                values.insert(query.clone(), v);
                if failing.remove(query).is_some() {
                    ctx.registry.event(
                        service,
                        None,
                        "recovered",
                        format!("{service}: prometheus query {query} has a value again ({v})"),
                    );
                }
            }
            Err(why) => {
                if failing.get(query) != Some(&why) {
                    ctx.registry.event(
                        service,
                        None,
                        "warning",
                        format!("{service}: prometheus query {query}: {why}; the count holds while it has no value"),
                    );
                    failing.insert(query.clone(), why);
                }
            }
        }
    }
    values
}

/// The policy's view of each instance that is starting or serving.
fn samples(ctx: &Context, service: &str, spec: &ServiceSpec, now: Instant) -> Vec<InstanceSample> {
    let memory_limit = spec.resources.memory.map(|m| m as f64);
    ctx.registry
        .instance_metrics(service)
        .into_iter()
        .filter(|m| {
            matches!(
                m.state,
                InstanceState::Starting | InstanceState::Healthy | InstanceState::Unhealthy
            )
        })
        .map(|m| InstanceSample {
            ready: m.state == InstanceState::Healthy,
            ready_for: m.ready_since.map(|t| now.saturating_duration_since(t)),
            cpu_percent: m.cpu_percent,
            memory_percent: match (m.memory_bytes, memory_limit) {
                (Some(b), Some(limit)) => Some(100.0 * b as f64 / limit),
                _ => None,
            },
        })
        .collect()
}

/// The mean of a tick's samples (at least one).
fn average(samples: impl ExactSizeIterator<Item = usize>) -> f64 {
    let n = samples.len().max(1);
    samples.sum::<usize>() as f64 / n as f64
}
