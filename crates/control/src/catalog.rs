//! A read-only, Consul-shaped catalog on the admin address, so that tools which discover
//! services through Consul's HTTP API (client libraries, consul-template, Prometheus'
//! `consul_sd_configs`, load balancers' agent health checks) find shoal's instances without a
//! Consul. shoal is one node (`shoal`, 127.0.0.1) in one datacenter (`dc1`); every running
//! instance is a service instance whose one check is shoal's own health checking of it.
//!
//! `GET /v1/catalog/services`, `/v1/catalog/service/:name`, `/v1/health/service/:name` and
//! `/v1/agent/health/service/name/:name` answer with Consul's field names, its status codes and
//! its `X-Consul-*` headers, and all support blocking queries (`?index=&wait=`, see
//! [`blocking`]). Nothing can be registered: the spec is the only source of services.

mod blocking;
mod types;

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::registry::{CatalogInstance, CatalogService, InstanceState};
use crate::AdminState;
use blocking::{Answer, Params, Refused, Source};
use types::{AgentEntry, CatalogEntry, HealthEntry};

/// The query as axum hands it over: every pair in order, repeats kept (`?tag=a&tag=b`).
type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// `GET /v1/catalog/services`: every service with its tags.
pub(crate) async fn services(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Pairs,
) -> Response {
    serve(&state, &headers, query, |services, _, _| {
        Answer::json(&service_tags(services))
    })
    .await
}

/// `GET /v1/catalog/service/:name`: one entry per running instance, whatever its health (an
/// unknown service is an empty list, as in Consul).
pub(crate) async fn service(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Pairs,
) -> Response {
    serve(&state, &headers, query, |services, params, index| {
        let entries: Vec<CatalogEntry<'_>> = matching(services, &name, &params.tags)
            .map(|(s, i)| CatalogEntry::of(s, i, index))
            .collect();
        Answer::json(&entries)
    })
    .await
}

/// `GET /v1/health/service/:name`: instances with their check; `?passing` keeps the healthy.
pub(crate) async fn health(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Pairs,
) -> Response {
    serve(&state, &headers, query, |services, params, _| {
        let entries: Vec<HealthEntry<'_>> = matching(services, &name, &params.tags)
            .filter(|(_, i)| !params.passing || passes(i))
            .map(|(s, i)| HealthEntry::of(s, i))
            .collect();
        Answer::json(&entries)
    })
    .await
}

/// `GET /v1/agent/health/service/name/:name`: what a load balancer's health check asks of a
/// Consul agent. 200 when any instance passes, 503 when none does, 404 when there is none.
pub(crate) async fn agent_health(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Pairs,
) -> Response {
    serve(&state, &headers, query, |services, params, _| {
        agent_answer(services, &name, params.text)
    })
    .await
}

/// Parses the query, then answers (blocking if asked) with what `render` makes of the catalog.
async fn serve<R>(state: &AdminState, headers: &HeaderMap, query: Pairs, render: R) -> Response
where
    R: Fn(&[CatalogService], &Params, u64) -> Answer,
{
    let parsed = query
        .map_err(|e| Refused {
            status: StatusCode::BAD_REQUEST,
            error: e.body_text(),
            hint: "see Consul's HTTP API for the parameters",
        })
        .and_then(|Query(pairs)| Params::parse(&pairs, headers));
    let params = match parsed {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    let registry = state.controller.registry();
    let source = Source {
        catalog: || registry.catalog(),
        news: registry.subscribe(),
        stop: state.shutdown.subscribe(),
    };
    let (answer, index) = blocking::answer(&params, source, |services, index| {
        render(services, &params, index)
    })
    .await;
    answer.into_response(index)
}

/// `{"name": ["tag", …]}` for every service.
fn service_tags(services: &[CatalogService]) -> BTreeMap<&str, &[String]> {
    services
        .iter()
        .map(|s| (s.name.as_str(), s.tags.as_slice()))
        .collect()
}

/// The instances of service `name`, if it has every tag asked for (tags are the service's, so
/// it is all of its instances or none).
fn matching<'a, 'b>(
    services: &'a [CatalogService],
    name: &'b str,
    tags: &'b [String],
) -> impl Iterator<Item = (&'a CatalogService, &'a CatalogInstance)> + 'b
where
    'a: 'b,
{
    services
        .iter()
        .filter(move |s| s.name == name && tags.iter().all(|t| s.tags.contains(t)))
        .flat_map(|s| s.instances.iter().map(move |i| (s, i)))
}

/// Whether an instance's check passes (only healthy ones: starting, unhealthy and draining
/// instances get no traffic, so Consul's clients must not pick them either).
fn passes(instance: &CatalogInstance) -> bool {
    instance.state == InstanceState::Healthy
}

/// The agent endpoint's answer: the best aggregated status decides the code, as in Consul.
fn agent_answer(services: &[CatalogService], name: &str, text: bool) -> Answer {
    let entries: Vec<AgentEntry<'_>> = matching(services, name, &[])
        .map(|(s, i)| AgentEntry::of(s, i))
        .collect();
    let (status, word) = if entries.is_empty() {
        (
            StatusCode::NOT_FOUND,
            format!("ServiceName {name} Not Found"),
        )
    } else if entries.iter().any(|e| e.aggregated_status == "passing") {
        (StatusCode::OK, "passing".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "critical".to_string())
    };
    if text {
        return Answer {
            status,
            body: word.into_bytes(),
            text: true,
        };
    }
    Answer::json_with(status, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn instance(id: &str, port: u16, state: InstanceState) -> CatalogInstance {
        CatalogInstance {
            id: id.into(),
            port,
            state,
            revision: 2,
            output: format!("{} output", state.as_str()),
        }
    }

    fn catalog() -> Vec<CatalogService> {
        vec![
            CatalogService {
                name: "api".into(),
                tags: vec![],
                meta: BTreeMap::new(),
                tcp: None,
                instances: vec![instance("api-1", 9001, InstanceState::Starting)],
            },
            CatalogService {
                name: "web".into(),
                tags: vec!["v1".into(), "primary".into()],
                meta: BTreeMap::from([("team".to_string(), "core".to_string())]),
                tcp: None,
                instances: vec![
                    instance("web-1", 8001, InstanceState::Healthy),
                    instance("web-2", 8002, InstanceState::Unhealthy),
                    instance("web-3", 8003, InstanceState::Draining),
                ],
            },
        ]
    }

    fn body(answer: &Answer) -> Value {
        serde_json::from_slice(&answer.body).unwrap()
    }

    fn with_tags(tags: &[&str]) -> Params {
        Params {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Params::default()
        }
    }

    #[test]
    fn services_list_their_tags() {
        let v = serde_json::to_value(service_tags(&catalog())).unwrap();
        assert_eq!(v, json!({ "api": [], "web": ["v1", "primary"] }));
    }

    #[test]
    fn tags_filter_whole_services() {
        let c = catalog();
        let ids = |p: &Params| -> Vec<String> {
            matching(&c, "web", &p.tags)
                .map(|(_, i)| i.id.clone())
                .collect()
        };
        assert_eq!(ids(&with_tags(&[])).len(), 3);
        assert_eq!(ids(&with_tags(&["v1"])).len(), 3);
        assert_eq!(ids(&with_tags(&["v1", "primary"])).len(), 3);
        assert!(ids(&with_tags(&["v1", "canary"])).is_empty());
        assert_eq!(matching(&c, "nope", &[]).count(), 0);
    }

    #[test]
    fn catalog_entries_use_consul_names() {
        let c = catalog();
        let e = CatalogEntry::of(&c[1], &c[1].instances[1], 42);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({
                "ID": "web-2", "Node": "shoal", "Address": "127.0.0.1", "Datacenter": "dc1",
                "ServiceID": "web-2", "ServiceName": "web", "ServiceAddress": "127.0.0.1",
                "ServicePort": 8002, "ServiceTags": ["v1", "primary"],
                "ServiceMeta": { "team": "core", "shoal_revision": "2", "shoal_state": "unhealthy" },
                "CreateIndex": 42, "ModifyIndex": 42,
            })
        );
    }

    #[test]
    fn health_entries_carry_one_check_each() {
        let c = catalog();
        let v = serde_json::to_value(HealthEntry::of(&c[1], &c[1].instances[0])).unwrap();
        assert_eq!(
            v["Node"],
            json!({ "Node": "shoal", "Address": "127.0.0.1", "Datacenter": "dc1" })
        );
        assert_eq!(v["Service"]["ID"], "web-1");
        assert_eq!(v["Service"]["Port"], 8001);
        assert_eq!(v["Service"]["Meta"]["shoal_state"], "healthy");
        let check = &v["Checks"][0];
        assert_eq!(check["CheckID"], "service:web-1");
        assert_eq!(check["Name"], "Service 'web' check");
        assert_eq!(check["Status"], "passing");
        assert_eq!(check["ServiceID"], "web-1");
        assert_eq!(check["ServiceName"], "web");
        assert_eq!(check["Output"], "healthy output");
        let draining = serde_json::to_value(HealthEntry::of(&c[1], &c[1].instances[2])).unwrap();
        assert_eq!(draining["Checks"][0]["Status"], "critical");
    }

    #[test]
    fn only_healthy_instances_pass() {
        let c = catalog();
        let passing: Vec<&str> = matching(&c, "web", &[])
            .filter(|(_, i)| passes(i))
            .map(|(_, i)| i.id.as_str())
            .collect();
        assert_eq!(passing, ["web-1"]);
    }

    #[test]
    fn agent_health_aggregates_like_consul() {
        let mut c = catalog();
        let a = agent_answer(&c, "web", false);
        assert_eq!(a.status, StatusCode::OK);
        let statuses: Vec<Value> = body(&a)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["AggregatedStatus"].clone())
            .collect();
        assert_eq!(
            statuses,
            [json!("passing"), json!("critical"), json!("critical")]
        );
        let text = agent_answer(&c, "web", true);
        assert_eq!(
            (text.status, text.body.as_slice(), text.text),
            (StatusCode::OK, &b"passing"[..], true)
        );

        c[1].instances[0].state = InstanceState::Unhealthy;
        let text = agent_answer(&c, "web", true);
        assert_eq!(
            (text.status, text.body.as_slice()),
            (StatusCode::SERVICE_UNAVAILABLE, &b"critical"[..])
        );
        assert_eq!(
            agent_answer(&c, "api", false).status,
            StatusCode::SERVICE_UNAVAILABLE
        );

        let missing = agent_answer(&c, "nope", false);
        assert_eq!(
            (missing.status, body(&missing)),
            (StatusCode::NOT_FOUND, json!([]))
        );
        let missing = agent_answer(&c, "nope", true);
        assert_eq!(missing.body, b"ServiceName nope Not Found");
    }

    #[test]
    fn spec_meta_cannot_shadow_shoal_keys() {
        let mut c = catalog();
        c[1].meta.insert("shoal_state".into(), "fake".into());
        let entry = CatalogEntry::of(&c[1], &c[1].instances[0], 1);
        let text = serde_json::to_string(&entry).unwrap();
        assert_eq!(text.matches("shoal_state").count(), 1, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ServiceMeta"]["shoal_state"], "healthy");
    }
}
