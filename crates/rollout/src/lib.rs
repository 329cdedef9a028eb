//! Rollouts: how a running system moves from one spec to the next. Pure (no I/O, no clock), like
//! the autoscaler: what changes and how is decided here, carried out by the control plane.
//!
//! - [`plan`]: what `shoal apply` would change, and how.
//! - [`converge`]/[`judge`]: the rolling strategy (surge, unavailable, deadlines).
//! - [`Canary`]/[`analyse`]: weighted steps watched by analysis.

mod canary;
mod converge;
mod plan;

pub use canary::{analyse, canary_instances, Canary, Check, Decision, Promote, Window};
pub use converge::{converge, judge, progress, Progress, SlotView, Step, Verdict};
pub use plan::{plan, Change, FieldChange, How, Plan, ServicePlan};
