//! `shoal load` against real HTTP servers on loopback: throughput and latency of both models,
//! coordinated-omission correction, ramps, error kinds, thresholds and the JSON report.
//! Runs are short (≤ 3 s) and rates modest; bounds are generous for shared machines.

mod load {
    pub mod servers;

    mod closed;
    mod errors;
    mod open;
    mod report;
    mod stages;
}
