//! Rollouts: how a running system moves from one spec to the next. Pure (no I/O, no clock), like
//! the autoscaler: what changes and how is decided here, carried out by the control plane.

mod plan;

pub use plan::{plan, Change, FieldChange, How, Plan, ServicePlan};
