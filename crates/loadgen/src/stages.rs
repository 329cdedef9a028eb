//! How the load level (concurrency or rate) changes over a run: `--stages 10s:5,30s:50,10s:0`
//! ramps linearly from one target to the next, like k6. A constant run is one flat stage.
//!
//! The open model needs the exact send time of the n-th request under a changing rate; that is
//! where the integral of a piecewise-linear rate reaches n, which [`Schedule::send_time`]
//! solves in closed form so that no rounding drifts over a long run.

use std::fmt;
use std::time::Duration;

use crate::duration::{parse_positive_duration, MAX_DURATION};

/// One stage: reach `target` linearly over `duration`, starting from the previous level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the ramp takes (> 0).
    pub duration: Duration,
    /// The level at the end of the stage: connections (closed model) or requests/s (open model).
    pub target: f64,
}

/// The parsed value of `--stages`: at least one stage, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages(pub Vec<Stage>);

impl Stages {
    /// Sum of the stage durations: the length of a staged run.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}:{}",
                crate::duration::format_duration(s.duration),
                s.target
            )?;
        }
        Ok(())
    }
}

/// Parses `10s:5,30s:50,10s:0` (also used as clap's value parser).
pub fn parse_stages(text: &str) -> Result<Stages, String> {
    let mut stages = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let Some((duration, target)) = part.split_once(':') else {
            return Err(format!(
                "invalid stage '{part}': write DURATION:TARGET, e.g. 30s:50 (stages are separated \
                 by commas)"
            ));
        };
        let duration =
            parse_positive_duration(duration).map_err(|e| format!("stage '{part}': {e}"))?;
        let target: f64 = target
            .trim()
            .parse()
            .map_err(|_| format!("stage '{part}': target '{}' is not a number", target.trim()))?;
        if !target.is_finite() || target < 0.0 {
            return Err(format!(
                "stage '{part}': target must be a number >= 0, got '{target}'"
            ));
        }
        stages.push(Stage { duration, target });
    }
    let stages = Stages(stages);
    if stages.total() > MAX_DURATION {
        return Err(format!(
            "stages last {} in total, longer than the limit of 24h",
            crate::duration::format_duration(stages.total())
        ));
    }
    Ok(stages)
}

/// The level over time: a start level and linear ramps. After the last stage the level stays at
/// the last target (only reached by the closed model's bookkeeping, never by sending).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    start: f64,
    stages: Vec<Stage>,
}

impl Schedule {
    /// A constant `level` for `duration`.
    pub fn constant(level: f64, duration: Duration) -> Self {
        Self::ramp(
            level,
            vec![Stage {
                duration,
                target: level,
            }],
        )
    }

    /// Ramps from `start` through `stages`.
    pub fn ramp(start: f64, stages: Vec<Stage>) -> Self {
        Self { start, stages }
    }

    /// The length of the run.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest level reached (how many closed-model workers to start).
    pub fn max_level(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, f64::max)
    }

    /// The level at `t` after the start.
    pub fn level_at(&self, t: Duration) -> f64 {
        let mut from = self.start;
        let mut offset = Duration::ZERO;
        for s in &self.stages {
            if t < offset + s.duration {
                let into = (t - offset).as_secs_f64() / s.duration.as_secs_f64();
                return from + (s.target - from) * into;
            }
            offset += s.duration;
            from = s.target;
        }
        from
    }

    /// Requests an open-model run of this schedule sends: the integral of the rate over the run.
    pub fn expected_requests(&self) -> f64 {
        let mut from = self.start;
        let mut total = 0.0;
        for s in &self.stages {
            total += (from + s.target) / 2.0 * s.duration.as_secs_f64();
            from = s.target;
        }
        total
    }

    /// When the `n`-th request (0-based) of an open-model run is due: where the integral of the
    /// rate reaches `n + 0.5` (each request sits in the middle of its share of the schedule, so
    /// a constant rate R over T sends exactly round(R·T) requests). `None` when the run ends
    /// first.
    pub fn send_time(&self, n: u64) -> Option<Duration> {
        let mut remaining = n as f64 + 0.5;
        let mut from = self.start;
        let mut offset = Duration::ZERO;
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            let area = (from + s.target) / 2.0 * d;
            if remaining <= area && area > 0.0 {
                // rate(τ) = from + slope·τ, so the count is from·τ + slope/2·τ² = remaining.
                // Solved as 2c / (b + √(b² + 4ac)), which stays exact when the slope is ~0.
                let a = (s.target - from) / (2.0 * d);
                let b = from;
                let disc = (b * b + 4.0 * a * remaining).max(0.0);
                let denom = b + disc.sqrt();
                let tau = if denom > 0.0 {
                    (2.0 * remaining / denom).clamp(0.0, d)
                } else {
                    0.0
                };
                return Some(offset + Duration::from_secs_f64(tau));
            }
            remaining -= area;
            offset += s.duration;
            from = s.target;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn parses_stage_lists() {
        let s = parse_stages("10s:5, 30s:50,1m30s:0").unwrap();
        assert_eq!(s.0.len(), 3);
        assert_eq!(s.0[1].duration, Duration::from_secs(30));
        assert_eq!(s.0[1].target, 50.0);
        assert_eq!(s.total(), Duration::from_secs(130));
        assert_eq!(s.to_string(), "10s:5,30s:50,1m30s:0");
    }

    #[test]
    fn rejects_bad_stages() {
        for bad in [
            "",
            "10s",
            "10s:",
            "10:5",
            "0s:5",
            "10s:-1",
            "10s:x",
            "10s:5,",
            "20h:1,5h:1",
        ] {
            assert!(parse_stages(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn level_ramps_linearly_between_targets() {
        let s = Schedule::ramp(
            0.0,
            vec![
                Stage {
                    duration: secs(10.0),
                    target: 10.0,
                },
                Stage {
                    duration: secs(10.0),
                    target: 0.0,
                },
            ],
        );
        assert_eq!(s.level_at(secs(0.0)), 0.0);
        assert!((s.level_at(secs(5.0)) - 5.0).abs() < 1e-9);
        assert!((s.level_at(secs(10.0)) - 10.0).abs() < 1e-9);
        assert!((s.level_at(secs(15.0)) - 5.0).abs() < 1e-9);
        assert_eq!(s.level_at(secs(30.0)), 0.0);
        assert_eq!(s.max_level(), 10.0);
        assert_eq!(s.total(), secs(20.0));
    }

    #[test]
    fn constant_rate_sends_evenly_and_exactly() {
        let s = Schedule::constant(200.0, secs(3.0));
        let times: Vec<Duration> = (0..).map_while(|n| s.send_time(n)).collect();
        assert_eq!(times.len(), 600);
        assert!((times[0].as_secs_f64() - 0.0025).abs() < 1e-9);
        for w in times.windows(2) {
            assert!(((w[1] - w[0]).as_secs_f64() - 0.005).abs() < 1e-9);
        }
        assert_eq!(s.expected_requests(), 600.0);
    }

    #[test]
    fn ramped_rate_sends_the_integral_with_rising_density() {
        // 0 → 100/s over 2 s, then 100 → 0 over 2 s: 100 + 100 requests.
        let s = Schedule::ramp(
            0.0,
            vec![
                Stage {
                    duration: secs(2.0),
                    target: 100.0,
                },
                Stage {
                    duration: secs(2.0),
                    target: 0.0,
                },
            ],
        );
        let times: Vec<f64> = (0..)
            .map_while(|n| s.send_time(n))
            .map(|d| d.as_secs_f64())
            .collect();
        assert_eq!(times.len(), 200);
        assert!(times.windows(2).all(|w| w[1] >= w[0]));
        let per_second = |a: f64| times.iter().filter(|&&t| t >= a && t < a + 1.0).count();
        // Integral over [0,1) = 25, [1,2) = 75, [2,3) = 75, [3,4) = 25.
        assert_eq!(per_second(0.0), 25);
        assert_eq!(per_second(1.0), 75);
        assert_eq!(per_second(2.0), 75);
        assert_eq!(per_second(3.0), 25);
    }

    #[test]
    fn zero_rate_stretches_are_skipped() {
        let s = Schedule::ramp(
            0.0,
            vec![
                Stage {
                    duration: secs(1.0),
                    target: 0.0,
                },
                Stage {
                    duration: secs(1.0),
                    target: 10.0,
                },
                Stage {
                    duration: secs(1.0),
                    target: 10.0,
                },
            ],
        );
        let first = s.send_time(0).unwrap().as_secs_f64();
        assert!(first > 1.0 && first < 2.0, "{first}");
        let count = (0..).map_while(|n| s.send_time(n)).count();
        assert_eq!(count, 15);
    }
}
