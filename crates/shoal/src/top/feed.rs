//! The dashboard's link to the admin API, in a task of its own so that a slow or absent shoal
//! never freezes the keyboard: it polls status and events every interval, carries out scale
//! requests, and reports everything as messages. Errors are messages too, never the end.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::{timeout, MissedTickBehavior};

use crate::client::Admin;
use crate::exit::Failure;

/// Longest wait for one answer of the admin API before the poll counts as failed.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// Events asked for per poll (the API keeps the newest when there are more).
const EVENTS_PER_POLL: usize = 200;

/// What the feed reports to the UI.
#[derive(Debug)]
pub enum Msg {
    /// A status document, or why there is none this time.
    Status(Result<Value, String>),
    /// Events newer than the last ones; `reset`: replace the list (first contact after an
    /// outage, when shoal may have restarted and numbered its events anew).
    Events { events: Vec<Value>, reset: bool },
    /// Where the instances' logs are.
    DataDir(PathBuf),
    /// The outcome of a scale request, as one line to show.
    Scaled(Result<String, String>),
}

/// What the UI asks the feed to do.
#[derive(Debug)]
pub enum Cmd {
    /// `POST /v1/services/{service}/scale {"delta": delta}`.
    Scale { service: String, delta: i64 },
}

/// Starts the feed; it ends when the UI drops its receiver or sender.
pub fn spawn(
    admin: Admin,
    interval: Duration,
) -> (mpsc::UnboundedSender<Cmd>, mpsc::UnboundedReceiver<Msg>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (msg_tx, msg_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(admin, interval, cmd_rx, msg_tx));
    (cmd_tx, msg_rx)
}

async fn run(
    mut admin: Admin,
    interval: Duration,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    msgs: mpsc::UnboundedSender<Msg>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut since = 0u64;
    let mut connected = false;
    let mut have_data_dir = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Scale { service, delta }) => {
                    let outcome = scale(&mut admin, &service, delta).await;
                    if msgs.send(Msg::Scaled(outcome)).is_err() {
                        return;
                    }
                    // Poll at once so the screen follows the new count.
                }
            },
        }
        let status = match timeout(ANSWER_WITHIN, admin.get("/v1/status")).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(first_line(&e)),
            Err(_) => Err(format!(
                "shoal did not answer within {}s",
                ANSWER_WITHIN.as_secs()
            )),
        };
        let reachable = status.is_ok();
        if msgs.send(Msg::Status(status)).is_err() {
            return;
        }
        if !reachable {
            connected = false;
            continue;
        }
        let reset = !connected;
        connected = true;
        if reset {
            since = 0;
        }
        if !have_data_dir {
            if let Ok(Ok(dir)) = timeout(ANSWER_WITHIN, admin.data_dir()).await {
                have_data_dir = true;
                if msgs.send(Msg::DataDir(dir)).is_err() {
                    return;
                }
            }
        }
        let path = format!("/v1/events?since={since}&limit={EVENTS_PER_POLL}");
        if let Ok(Ok(page)) = timeout(ANSWER_WITHIN, admin.get(&path)).await {
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if let Some(max) = events.iter().filter_map(|e| e["seq"].as_u64()).max() {
                since = since.max(max);
            }
            if (reset || !events.is_empty()) && msgs.send(Msg::Events { events, reset }).is_err() {
                return;
            }
        }
    }
}

async fn scale(admin: &mut Admin, service: &str, delta: i64) -> Result<String, String> {
    let path = format!("/v1/services/{service}/scale");
    match timeout(ANSWER_WITHIN, admin.post(&path, json!({ "delta": delta }))).await {
        Ok(Ok(r)) if r["from"] == r["to"] => Ok(format!("{service}: already at {}", r["to"])),
        Ok(Ok(r)) => Ok(format!("{service}: {} → {} instances", r["from"], r["to"])),
        Ok(Err(e)) => Err(format!("scale {service}: {}", one_line(&e))),
        Err(_) => Err(format!(
            "scale {service}: shoal did not answer within {}s",
            ANSWER_WITHIN.as_secs()
        )),
    }
}

/// The first line of a failure (the rest is a hint for a terminal, too long for a status line).
fn first_line(e: &Failure) -> String {
    e.message.lines().next().unwrap_or("").to_string()
}

/// A failure with its hint on one line.
fn one_line(e: &Failure) -> String {
    e.message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" — ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_fit_on_one_line() {
        let e =
            Failure::op("cannot reach shoal at http://x: refused\nhint: is `shoal up` running?");
        assert_eq!(first_line(&e), "cannot reach shoal at http://x: refused");
        assert_eq!(
            one_line(&e),
            "cannot reach shoal at http://x: refused — hint: is `shoal up` running?"
        );
    }
}
