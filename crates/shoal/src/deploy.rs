//! The deploy verbs: `apply` (plan, carry out, follow the rollouts it started), `history`,
//! `promote` and `rollback`; and the one-line rollout progress that `status` shows too.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{Output, Target};
use crate::client::Admin;
use crate::exit::Failure;

/// How often `apply` looks at a rollout it follows.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `shoal apply`: validate here (exit 2 on a bad file, nothing sent), then plan and carry out in
/// the running shoal, then follow the rollouts it started unless `detach`.
pub async fn apply(
    target: &Target,
    dry_run: bool,
    detach: bool,
    output: Output,
) -> Result<(), Failure> {
    let file = &target.file;
    let opts = shoal_spec::LoadOptions {
        check_ports: false,
        check_programs: true,
    };
    shoal_spec::load(file, &opts).map_err(Failure::spec)?;
    let source = std::fs::read_to_string(file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", file.display())))?;
    let path = std::path::absolute(file)
        .map_err(|e| Failure::input(format!("cannot resolve {}: {e}", file.display())))?;
    let mut admin = Admin::connect(target)?;
    let outcome = admin
        .post(
            "/v1/apply",
            json!({ "path": path, "source": source, "dry_run": dry_run }),
        )
        .await?;
    if output == Output::Json {
        println!("{outcome}");
    } else {
        print!("{}", outcome["rendered"].as_str().unwrap_or(""));
        if dry_run {
            println!("Dry run: nothing was changed.");
        } else if outcome["applied"] == true {
            println!("Applied.");
        }
    }
    let rollouts: Vec<(String, u64)> = outcome["rollouts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["service"].as_str()?.to_string(), r["revision"].as_u64()?)))
        .collect();
    if rollouts.is_empty() || detach || dry_run {
        if !rollouts.is_empty() && output == Output::Table {
            println!("Rollouts continue in shoal; follow them with `shoal status`.");
        }
        return Ok(());
    }
    follow(&admin, &rollouts, output).await
}

/// Prints each service's progress as it changes, until every rollout has ended; exit 1 if any
/// did not complete. Ctrl-C stops following only: the rollouts go on in shoal.
async fn follow(admin: &Admin, rollouts: &[(String, u64)], output: Output) -> Result<(), Failure> {
    let mut last_lines: Vec<String> = vec![String::new(); rollouts.len()];
    let mut ended: Vec<Option<Value>> = vec![None; rollouts.len()];
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let status = admin.get("/v1/status").await?;
        for (i, (service, revision)) in rollouts.iter().enumerate() {
            if ended[i].is_some() {
                continue;
            }
            let Some(s) = status["services"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == service.as_str())
            else {
                ended[i] = Some(json!({ "result": "removed", "message": "the service is gone" }));
                continue;
            };
            let rollout = &s["rollout"];
            let this = Some(*revision);
            // Still moving: rolling it out, or going back from it after a failure.
            let moving = !rollout.is_null()
                && ((rollout["revision"].as_u64() == this && rollout["phase"] != "failed")
                    || (rollout["phase"] == "reverting" && rollout["from"].as_u64() == this));
            if !moving {
                let outcome = s["recent_rollouts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .rev()
                    .find(|o| o["revision"].as_u64() == this)
                    .cloned();
                ended[i] = Some(outcome.unwrap_or_else(|| {
                    if rollout["revision"].as_u64() == this {
                        json!({ "result": "failed", "message": rollout["message"] })
                    } else {
                        json!({ "result": "ended", "message": "no longer rolling out (see `shoal events`)" })
                    }
                }));
                continue;
            }
            if !rollout.is_null() {
                let line = format!("{service}: {}", progress_line(rollout));
                if line != last_lines[i] && output == Output::Table {
                    println!("{line}");
                }
                last_lines[i] = line;
            }
        }
        if ended.iter().all(Option::is_some) {
            break;
        }
        tokio::select! {
            _ = &mut ctrl_c => {
                eprintln!("Stopped following; the rollout goes on in shoal (see `shoal status`).");
                return Ok(());
            }
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
    let mut failed = Vec::new();
    for ((service, revision), end) in rollouts.iter().zip(&ended) {
        let end = end.as_ref().expect("every rollout ended");
        let result = end["result"].as_str().unwrap_or("unknown");
        let message = end["message"].as_str().unwrap_or("");
        if output == Output::Json {
            println!(
                "{}",
                json!({ "service": service, "revision": revision, "result": result, "message": message })
            );
        } else {
            println!("{service}: revision {revision} {result}: {message}");
        }
        if result != "complete" {
            failed.push(format!("{service} revision {revision} {result}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::op(format!(
            "not every rollout completed: {}\nhint: `shoal events` and `shoal history SERVICE` say why",
            failed.join(", ")
        )))
    }
}

/// One line for a rollout in progress: `revision 2 (from 1) rolling: 1/3 updated · 2 new · 2 old`.
pub fn progress_line(r: &Value) -> String {
    let mut line = format!(
        "revision {} (from {}) {}: {}/{} updated · {} new ({} healthy) · {} old",
        r["revision"],
        r["from"],
        r["phase"].as_str().unwrap_or("?"),
        r["updated"],
        r["desired"],
        r["new"],
        r["healthy"],
        r["old"]
    );
    if let Some(w) = r["canary_weight"].as_u64() {
        line.push_str(&format!(
            " · step {}/{} at {w} % · failed checks {}/{}",
            r["step"][0], r["step"][1], r["failures"][0], r["failures"][1]
        ));
        if let Some(last) = r["checks"].as_array().and_then(|c| c.last()) {
            line.push_str(&format!(
                " · last check {}: {}",
                last["result"].as_str().unwrap_or("?"),
                last["detail"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(m) = r["message"].as_str().filter(|m| !m.is_empty()) {
        line.push_str(&format!(" · {m}"));
    }
    line
}

/// `shoal history SERVICE`.
pub async fn history(target: &Target, service: &str, output: Output) -> Result<(), Failure> {
    let admin = Admin::connect(target)?;
    let history = admin
        .get(&format!("/v1/services/{service}/history"))
        .await?;
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&history).unwrap_or_default()
        );
        return Ok(());
    }
    let mut table = crate::commands::table(&["REVISION", "STATUS", "CREATED", "COMMAND", "NOTE"]);
    for r in history["revisions"].as_array().into_iter().flatten() {
        let mut number = r["revision"].to_string();
        if r["active"] == true {
            number.push_str(" *");
        }
        table.add_row(vec![
            number,
            r["status"].as_str().unwrap_or("").replace('_', " "),
            r["created"].as_str().unwrap_or("").to_string(),
            r["summary"].as_str().unwrap_or("").to_string(),
            r["note"].as_str().unwrap_or("").to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// `shoal promote SERVICE [--full]`.
pub async fn promote(target: &Target, service: &str, full: bool) -> Result<(), Failure> {
    let mut admin = Admin::connect(target)?;
    let answer = admin
        .post(
            &format!("/v1/services/{service}/promote"),
            json!({ "full": full }),
        )
        .await?;
    println!("{}", answer["message"].as_str().unwrap_or(""));
    Ok(())
}

/// `shoal rollback SERVICE [--to N]`.
pub async fn rollback(target: &Target, service: &str, to: Option<u64>) -> Result<(), Failure> {
    let mut admin = Admin::connect(target)?;
    let answer = admin
        .post(
            &format!("/v1/services/{service}/rollback"),
            json!({ "to": to }),
        )
        .await?;
    println!("{}", answer["message"].as_str().unwrap_or(""));
    Ok(())
}
