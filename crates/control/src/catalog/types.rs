//! The JSON shapes of Consul's HTTP API that the catalog answers with, field for field as Consul
//! spells them (`ID`, `ServiceID`, `CheckID` are not plain PascalCase), so that Consul's own
//! clients decode them. They borrow from the registry's snapshot: a response is built without
//! copying the catalog.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::registry::{CatalogInstance, CatalogService, InstanceState};

/// The one node every instance runs on, as Consul would call this machine.
pub(super) const NODE: &str = "shoal";
/// Instances listen on loopback.
pub(super) const ADDRESS: &str = "127.0.0.1";
/// Consul's default datacenter name, which clients assume when they name none.
pub(super) const DATACENTER: &str = "dc1";

/// Consul's check status of an instance: only a healthy one passes.
pub(super) fn status_of(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Healthy => "passing",
        _ => "critical",
    }
}

/// `ServiceMeta`/`Meta`: the spec's `meta`, plus the revision and lifecycle state shoal knows,
/// so a tool can tell a canary or a starting instance apart. Serialized as one JSON object
/// without building a map per instance.
pub(super) struct Meta<'a> {
    spec: &'a BTreeMap<String, String>,
    revision: u64,
    state: &'static str,
    /// The service's TCP listener: the stable, balanced address clients should use rather than
    /// the instance's own port (which changes with every restart and bypasses draining).
    tcp: Option<std::net::SocketAddr>,
}

/// The meta key for the instance's revision (a canary's instances have the newer one). shoal sets
/// it itself: a spec key of the same name is left out rather than sent twice.
const REVISION_KEY: &str = "shoal_revision";
/// The meta key for the lifecycle state, which says more than passing/critical.
const STATE_KEY: &str = "shoal_state";
/// The meta key for the service's TCP listener address, when it has one.
const TCP_KEY: &str = "shoal_tcp";

impl<'a> Meta<'a> {
    /// The meta of one instance of `service`.
    pub(super) fn of(service: &'a CatalogService, instance: &CatalogInstance) -> Self {
        Meta {
            spec: &service.meta,
            revision: instance.revision,
            state: instance.state.as_str(),
            tcp: service.tcp,
        }
    }
}

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.spec {
            if k != REVISION_KEY && k != STATE_KEY && k != TCP_KEY {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry(REVISION_KEY, &self.revision.to_string())?;
        map.serialize_entry(STATE_KEY, self.state)?;
        if let Some(tcp) = self.tcp {
            map.serialize_entry(TCP_KEY, &tcp.to_string())?;
        }
        map.end()
    }
}

/// One element of `GET /v1/catalog/service/:name` (Consul's `CatalogService`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CatalogEntry<'a> {
    #[serde(rename = "ID")]
    pub(super) id: &'a str,
    pub(super) node: &'static str,
    pub(super) address: &'static str,
    pub(super) datacenter: &'static str,
    #[serde(rename = "ServiceID")]
    pub(super) service_id: &'a str,
    pub(super) service_name: &'a str,
    pub(super) service_address: &'static str,
    pub(super) service_port: u16,
    pub(super) service_tags: &'a [String],
    pub(super) service_meta: Meta<'a>,
    pub(super) create_index: u64,
    pub(super) modify_index: u64,
}

impl<'a> CatalogEntry<'a> {
    /// The entry of one instance, at catalog index `index`.
    pub(super) fn of(service: &'a CatalogService, i: &'a CatalogInstance, index: u64) -> Self {
        CatalogEntry {
            id: &i.id,
            node: NODE,
            address: ADDRESS,
            datacenter: DATACENTER,
            service_id: &i.id,
            service_name: &service.name,
            service_address: ADDRESS,
            service_port: i.port,
            service_tags: &service.tags,
            service_meta: Meta::of(service, i),
            create_index: index,
            modify_index: index,
        }
    }
}

/// `Node` of a health entry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NodeBody {
    pub(super) node: &'static str,
    pub(super) address: &'static str,
    pub(super) datacenter: &'static str,
}

/// `Service` of a health or agent entry (Consul's `AgentService`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ServiceBody<'a> {
    #[serde(rename = "ID")]
    pub(super) id: &'a str,
    pub(super) service: &'a str,
    pub(super) tags: &'a [String],
    pub(super) address: &'static str,
    pub(super) port: u16,
    pub(super) meta: Meta<'a>,
}

impl<'a> ServiceBody<'a> {
    /// One instance as a Consul service instance.
    pub(super) fn of(service: &'a CatalogService, i: &'a CatalogInstance) -> Self {
        ServiceBody {
            id: &i.id,
            service: &service.name,
            tags: &service.tags,
            address: ADDRESS,
            port: i.port,
            meta: Meta::of(service, i),
        }
    }
}

/// The one check Consul would show for an instance: shoal's own health checking of it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Check<'a> {
    pub(super) node: &'static str,
    #[serde(rename = "CheckID")]
    pub(super) check_id: String,
    pub(super) name: String,
    pub(super) status: &'static str,
    pub(super) output: &'a str,
    #[serde(rename = "ServiceID")]
    pub(super) service_id: &'a str,
    pub(super) service_name: &'a str,
}

impl<'a> Check<'a> {
    /// The check of one instance: passing only while healthy, its output saying why not.
    pub(super) fn of(service: &'a CatalogService, i: &'a CatalogInstance) -> Self {
        Check {
            node: NODE,
            check_id: format!("service:{}", i.id),
            name: format!("Service '{}' check", service.name),
            status: status_of(i.state),
            output: &i.output,
            service_id: &i.id,
            service_name: &service.name,
        }
    }
}

/// One element of `GET /v1/health/service/:name` (Consul's `ServiceEntry`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct HealthEntry<'a> {
    pub(super) node: NodeBody,
    pub(super) service: ServiceBody<'a>,
    pub(super) checks: [Check<'a>; 1],
}

impl<'a> HealthEntry<'a> {
    /// One instance with its node and check.
    pub(super) fn of(service: &'a CatalogService, i: &'a CatalogInstance) -> Self {
        HealthEntry {
            node: NodeBody {
                node: NODE,
                address: ADDRESS,
                datacenter: DATACENTER,
            },
            service: ServiceBody::of(service, i),
            checks: [Check::of(service, i)],
        }
    }
}

/// One element of `GET /v1/agent/health/service/name/:name` (Consul's `AgentServiceChecksInfo`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AgentEntry<'a> {
    pub(super) aggregated_status: &'static str,
    pub(super) service: ServiceBody<'a>,
    pub(super) checks: [Check<'a>; 1],
}

impl<'a> AgentEntry<'a> {
    /// One instance as the agent reports it; with one check, its status is the aggregate.
    pub(super) fn of(service: &'a CatalogService, i: &'a CatalogInstance) -> Self {
        AgentEntry {
            aggregated_status: status_of(i.state),
            service: ServiceBody::of(service, i),
            checks: [Check::of(service, i)],
        }
    }
}
