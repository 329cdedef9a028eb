//! End-to-end tests: the real `shoal` binary, real instances (taskboard, python's http.server),
//! real sockets and a real load generator. Bounds are generous: the machines are shared.

mod e2e {
    pub mod prometheus;
    pub mod resp;
    pub mod support;

    mod admin;
    mod autoscale;
    mod balancing;
    mod catalog;
    mod dashboard;
    mod example_canary;
    mod example_redis_node;
    pub mod examples;
    mod foreign;
    mod lifecycle;
    mod logs;
    mod metrics;
    mod rollout;
    mod spec_errors;
    mod tiers;
    mod top;
}
