//! The live status line on stderr while a run goes: elapsed time, requests/s over the last
//! second, p99 so far, failures and the current level, redrawn in place four times a second.
//!
//! Only drawn when the caller says stderr is a terminal; redirected output gets nothing, so logs
//! and CI output stay clean.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use tokio::time::{interval, Instant, MissedTickBehavior};

use crate::args::Model;
use crate::duration::format_duration;
use crate::record::Recorder;
use crate::stages::Schedule;

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// Redraws the line until dropped (the caller races it against the run, then calls [`clear`]).
pub(crate) async fn draw(recorder: &Recorder, schedule: &Schedule, model: Model, start: Instant) {
    let total = schedule.total();
    let mut ticks = interval(REDRAW);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // (when, requests so far) over the last second, for the current rate.
    let mut window: VecDeque<(Instant, u64)> = VecDeque::new();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let requests = recorder.requests();
        window.push_back((now, requests));
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_millis(1050))
        {
            window.pop_front();
        }
        let rps = match window.front() {
            Some((t, n)) if now > *t => {
                (requests - n) as f64 / now.duration_since(*t).as_secs_f64()
            }
            _ => 0.0,
        };
        let elapsed = now.duration_since(start);
        let line = line(
            elapsed.min(total),
            total,
            rps,
            recorder.p99(),
            recorder.failures(),
            model,
            schedule.level_at(elapsed),
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }
}

/// Erases the line so the report starts on a clean one.
pub(crate) fn clear() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K");
    let _ = err.flush();
}

fn line(
    elapsed: Duration,
    total: Duration,
    rps: f64,
    p99: Option<Duration>,
    failures: u64,
    model: Model,
    level: f64,
) -> String {
    let p99 = p99.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}ms", d.as_secs_f64() * 1e3),
    );
    let level = match model {
        Model::Closed => format!("connections {}", level.round()),
        Model::Open => format!("target {level:.0} req/s"),
    };
    format!(
        "{:>6} / {}  {rps:>8.0} req/s  p99 {p99}  failures {failures}  {level}",
        format_duration(elapsed),
        format_duration(total),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_every_figure() {
        let l = line(
            Duration::from_millis(4200),
            Duration::from_secs(10),
            1234.4,
            Some(Duration::from_micros(12_340)),
            3,
            Model::Closed,
            9.6,
        );
        assert!(l.contains("4.2s / 10s"), "{l}");
        assert!(l.contains("1234 req/s"), "{l}");
        assert!(l.contains("p99 12.3ms"), "{l}");
        assert!(l.contains("failures 3"), "{l}");
        assert!(l.contains("connections 10"), "{l}");
        let l = line(
            Duration::ZERO,
            Duration::from_secs(3),
            0.0,
            None,
            0,
            Model::Open,
            200.0,
        );
        assert!(l.contains("p99 -") && l.contains("target 200 req/s"), "{l}");
    }
}
