//! Publishing: every registry change rebuilds the gateway's routing table (HTTP routes, the
//! canary split, TCP routes) from the instances' states, under the registry's lock so that two
//! changes racing on different threads can never leave the older table in place.

use std::sync::Arc;

use shoal_gateway::{Backends, Endpoint, Route, RoutingTable, Split, TcpRoute};

use super::{InstanceState, Registry, ServiceRecord};

impl Registry {
    /// Rebuilds the routing table from the registry and swaps it into the gateway. Services with
    /// no healthy instance fail open to their unhealthy ones (and an event says so), over HTTP
    /// and TCP alike.
    pub(super) fn publish(&self) {
        let fail_open_changes = {
            let mut inner = self.lock();
            let mut routes = Vec::new();
            let mut tcp_routes = Vec::new();
            let mut changes = Vec::new();
            for (name, svc) in inner.services.iter_mut() {
                if svc.route.is_none() && svc.tier.tcp.is_none() {
                    continue;
                }
                let (endpoints, fail_open) = routable(svc);
                if fail_open != svc.fail_open {
                    svc.fail_open = fail_open;
                    changes.push((name.clone(), fail_open));
                }
                if svc.tier.tcp.is_some() {
                    tcp_routes.push(TcpRoute {
                        service: Arc::from(name.as_str()),
                        backends: Arc::new(Backends::new(endpoints.clone(), fail_open)),
                    });
                }
                if let Some(route) = http_route(name, svc, endpoints, fail_open) {
                    routes.push(route);
                }
            }
            // Stored while the lock is held: a later change always publishes a later table.
            self.gateway
                .publish(RoutingTable::with_tcp(routes, tcp_routes));
            changes
        };
        for (service, open) in fail_open_changes {
            if open {
                self.event(
                    &service,
                    None,
                    "fail_open",
                    format!("no healthy instance of {service}: failing open, routing to unhealthy instances"),
                );
            } else {
                self.event(
                    &service,
                    None,
                    "recovered",
                    format!("{service} has healthy instances again; no longer failing open"),
                );
            }
        }
    }
}

/// A routed service's HTTP route over `endpoints`, split by weight while a canary runs.
fn http_route(
    name: &str,
    svc: &ServiceRecord,
    endpoints: Vec<Arc<Endpoint>>,
    fail_open: bool,
) -> Option<Route> {
    let route = svc.route.as_ref()?;
    let (endpoints, split) = match &svc.split {
        None => (endpoints, None),
        Some(sp) => {
            let is_canary = |e: &Arc<Endpoint>| {
                svc.instances.values().any(|r| {
                    r.revision == sp.canary_revision
                        && r.endpoint.as_ref().is_some_and(|x| Arc::ptr_eq(x, e))
                })
            };
            let (canary, stable): (Vec<_>, Vec<_>) = endpoints.into_iter().partition(is_canary);
            let split = Split {
                canary: Arc::new(Backends::new(canary, fail_open)),
                canary_weight: f64::from(sp.weight) / 100.0,
                canary_stats: Arc::clone(&sp.canary_stats),
                stable_stats: Arc::clone(&sp.stable_stats),
                pin_header: sp.pin_header.clone(),
                canary_revision: sp.canary_revision,
                stable_revision: sp.stable_revision,
            };
            (stable, Some(Arc::new(split)))
        }
    };
    Some(Route {
        host: route.host.clone(),
        prefix: route.path_prefix.clone(),
        service: Arc::from(name),
        backends: Arc::new(Backends::new(endpoints, fail_open)),
        stats: Arc::clone(&svc.stats),
        cold_start: svc.cold_start,
        split,
    })
}

/// The endpoints a service's traffic goes to: its healthy instances, or, with none, the unhealthy
/// ones that still run (failing open, like an ALB); and whether it is failing open.
fn routable(svc: &ServiceRecord) -> (Vec<Arc<Endpoint>>, bool) {
    let with_state = |state: InstanceState| -> Vec<Arc<Endpoint>> {
        svc.instances
            .values()
            .filter(|r| r.state == state)
            .filter_map(|r| r.endpoint.clone())
            .collect()
    };
    let healthy = with_state(InstanceState::Healthy);
    if healthy.is_empty() {
        let unhealthy = with_state(InstanceState::Unhealthy);
        let open = !unhealthy.is_empty();
        (unhealthy, open)
    } else {
        (healthy, false)
    }
}
