//! The registry's services and instances as the Consul-shaped catalog shows them.

use std::collections::BTreeMap;

use super::{InstanceState, Registry};

/// One service as the catalog (`/v1/catalog/...`, `/v1/health/...`) shows it.
#[derive(Debug, Clone)]
pub struct CatalogService {
    /// Service name.
    pub name: String,
    /// `tags` from the spec.
    pub tags: Vec<String>,
    /// `meta` from the spec.
    pub meta: BTreeMap<String, String>,
    /// The gateway's TCP listener for it, as clients reach it.
    pub tcp: Option<std::net::SocketAddr>,
    /// Its running instances (those with a port), by slot.
    pub instances: Vec<CatalogInstance>,
}

/// One running instance in [`CatalogService`].
#[derive(Debug, Clone)]
pub struct CatalogInstance {
    /// `<service>-<n>`.
    pub id: String,
    /// Where it listens (loopback).
    pub port: u16,
    /// Lifecycle state.
    pub state: InstanceState,
    /// The revision it runs.
    pub revision: u64,
    /// Why it is not healthy, or that it is, in words (Consul's check `Output`).
    pub output: String,
}

impl Registry {
    /// Every service with its running instances, for the Consul-shaped catalog, and the event
    /// sequence number it reflects (Consul's `X-Consul-Index`: it moves on every change).
    pub fn catalog(&self) -> (Vec<CatalogService>, u64) {
        let index = *self.changed.borrow();
        let inner = self.lock();
        let services = inner
            .services
            .iter()
            .map(|(name, svc)| CatalogService {
                name: name.clone(),
                tags: svc.tier.tags.clone(),
                meta: svc.tier.meta.clone(),
                tcp: svc.tier.tcp.map(|t| t.connect_address()),
                instances: svc
                    .instances
                    .values()
                    .filter_map(|r| {
                        Some(CatalogInstance {
                            id: r.id.clone(),
                            port: r.port.filter(|_| r.state != InstanceState::Stopped)?,
                            state: r.state,
                            revision: r.revision,
                            output: match r.state {
                                InstanceState::Healthy => "healthy: passing its checks".into(),
                                InstanceState::Starting => {
                                    "starting: not yet passing its checks".into()
                                }
                                InstanceState::Draining => "draining: leaving".into(),
                                InstanceState::Unhealthy => r
                                    .health_output
                                    .clone()
                                    .unwrap_or_else(|| "unhealthy".into()),
                                InstanceState::Stopped => "stopped".into(),
                            },
                        })
                    })
                    .collect(),
            })
            .collect();
        (services, index)
    }
}
