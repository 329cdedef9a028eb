//! The client verbs: each talks to a running shoal through [`crate::client::Admin`] and prints a
//! table for people or JSON for programs.

use std::path::Path;
use std::time::Duration;

use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};
use serde_json::{json, Value};
use shoal_control::ScaleTarget;

use crate::cli::{Output, Target};
use crate::client::Admin;
use crate::exit::Failure;

/// `shoal validate`: every problem at once, exit 2 if any.
pub fn validate(file: &Path) -> Result<(), Failure> {
    let spec = shoal_spec::load(
        file,
        &shoal_spec::LoadOptions {
            check_ports: true,
            check_programs: true,
        },
    )
    .map_err(Failure::spec)?;
    let services: Vec<String> = spec
        .services
        .values()
        .map(|s| {
            let i = s.instances;
            format!("{} ({}..{}, desired {})", s.name, i.min, i.max, i.desired)
        })
        .collect();
    println!(
        "{}: ok — {} service(s): {}",
        file.display(),
        services.len(),
        services.join(", ")
    );
    Ok(())
}

/// `shoal status [SERVICE]`.
pub async fn status(target: &Target, service: Option<&str>, output: Output) -> Result<(), Failure> {
    let admin = Admin::connect(target)?;
    let mut status = admin.get("/v1/status").await?;
    if let Some(name) = service {
        let services = status["services"].as_array().cloned().unwrap_or_default();
        let known: Vec<&str> = services.iter().filter_map(|s| s["name"].as_str()).collect();
        if !known.contains(&name) {
            return Err(Failure::input(format!(
                "no service named {name:?} (services: {})",
                known.join(", ")
            )));
        }
        status["services"] =
            Value::Array(services.into_iter().filter(|s| s["name"] == name).collect());
    }
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
        return Ok(());
    }
    let mut services = table(&[
        "SERVICE",
        "INSTANCES",
        "DESIRED",
        "MIN..MAX",
        "ROUTE",
        "TCP",
        "RPS",
        "P95",
        "ERRORS",
        "NOTE",
    ]);
    let mut instances = table(&[
        "INSTANCE", "STATE", "PORT", "PID", "REV", "RESTARTS", "UPTIME", "CPU", "MEM", "INFLIGHT",
        "REQUESTS", "CONNS",
    ]);
    let mut notes = Vec::new();
    for s in status["services"].as_array().into_iter().flatten() {
        let list = s["instances"].as_array().cloned().unwrap_or_default();
        let healthy = list.iter().filter(|i| i["state"] == "healthy").count();
        let note = service_note(s);
        notes.extend(tier_lines(s));
        let traffic = &s["traffic"];
        let desired = if s["autoscaled"] == true {
            format!("{} (auto)", s["desired"])
        } else {
            s["desired"].to_string()
        };
        services.add_row(vec![
            s["name"].as_str().unwrap_or("").to_string(),
            format!("{healthy}/{} healthy", list.len()),
            desired,
            format!("{}..{}", s["min"], s["max"]),
            s["route"].as_str().unwrap_or("-").to_string(),
            tcp_cell(&s["tcp"]),
            traffic["rps"]
                .as_f64()
                .map_or("-".into(), |r| format!("{r:.1}")),
            traffic["p95_ms"]
                .as_f64()
                .map_or("-".into(), |p| format!("{p:.1}ms")),
            traffic["error_rate"]
                .as_f64()
                .map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            note,
        ]);
        for i in &list {
            let mut state = i["state"].as_str().unwrap_or("").to_string();
            if i["ejected"] == true {
                state.push_str(" (ejected)");
            }
            instances.add_row(vec![
                i["id"].as_str().unwrap_or("").to_string(),
                state,
                opt(&i["port"]),
                opt(&i["pid"]),
                i["revision"].to_string(),
                i["restarts"].to_string(),
                i["uptime_secs"].as_u64().map_or("-".into(), human_secs),
                i["cpu_percent"]
                    .as_f64()
                    .map_or("-".into(), |c| format!("{c:.0}%")),
                i["memory_bytes"].as_u64().map_or("-".into(), human_bytes),
                i["inflight"].to_string(),
                i["requests"].to_string(),
                i["connections"].to_string(),
            ]);
        }
    }
    println!("{services}");
    for s in status["services"].as_array().into_iter().flatten() {
        if !s["rollout"].is_null() {
            println!(
                "{} rolling out: {}",
                s["name"].as_str().unwrap_or(""),
                crate::deploy::progress_line(&s["rollout"])
            );
        }
    }
    println!("{instances}");
    for line in notes {
        println!("{line}");
    }
    Ok(())
}

/// What is unusual about a service now, for the NOTE column.
fn service_note(s: &Value) -> String {
    if s["fail_open"] == true {
        return "FAILING OPEN: no healthy instance".into();
    }
    let waiting: Vec<&str> = s["waiting_for"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if waiting.is_empty() {
        String::new()
    } else {
        format!("waiting for {} (depends_on)", waiting.join(", "))
    }
}

/// `127.0.0.1:6380 (3 open)`, or `-` without a TCP listener.
fn tcp_cell(tcp: &Value) -> String {
    match tcp["listen"].as_str() {
        Some(listen) => format!("{listen} ({} open)", tcp["open"]),
        None => "-".into(),
    }
}

/// A service's start order and volumes, printed under the tables.
fn tier_lines(s: &Value) -> Vec<String> {
    let name = s["name"].as_str().unwrap_or("");
    let mut out = Vec::new();
    let deps: Vec<&str> = s["depends_on"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !deps.is_empty() {
        out.push(format!(
            "{name} starts after {} (depends_on)",
            deps.join(", ")
        ));
    }
    for i in s["instances"].as_array().into_iter().flatten() {
        if let (Some(id), Some(volume)) = (i["id"].as_str(), i["volume"].as_str()) {
            out.push(format!("{id} volume {volume}"));
        }
    }
    out
}

/// `shoal scale SERVICE N|+N|-N`.
pub async fn scale(
    target: &Target,
    service: &str,
    count: &str,
    output: Output,
) -> Result<(), Failure> {
    let parsed = parse_count(count)?;
    let body = match parsed {
        ScaleTarget::To(n) => json!({ "count": n }),
        ScaleTarget::By(d) => json!({ "delta": d }),
    };
    let mut admin = Admin::connect(target)?;
    let result = admin
        .post(&format!("/v1/services/{service}/scale"), body)
        .await?;
    if output == Output::Json {
        println!("{result}");
    } else if result["from"] == result["to"] {
        println!("{service}: already at {}", result["to"]);
    } else {
        println!("{service}: {} → {} instances", result["from"], result["to"]);
    }
    Ok(())
}

/// `N`, `+N` or `-N`.
pub fn parse_count(s: &str) -> Result<ScaleTarget, Failure> {
    let bad = || {
        Failure::input(format!(
            "invalid count {s:?}: expected N (e.g. 3), +N (e.g. +2) or -N (e.g. -1)"
        ))
    };
    if let Some(rest) = s.strip_prefix('+') {
        rest.parse::<u32>()
            .map(|n| ScaleTarget::By(n.into()))
            .map_err(|_| bad())
    } else if let Some(rest) = s.strip_prefix('-') {
        rest.parse::<u32>()
            .map(|n| ScaleTarget::By(-i64::from(n)))
            .map_err(|_| bad())
    } else {
        s.parse::<u32>().map(ScaleTarget::To).map_err(|_| bad())
    }
}

/// `shoal events [-f]`.
pub async fn events(target: &Target, follow: bool, output: Output) -> Result<(), Failure> {
    let admin = Admin::connect(target)?;
    let mut since = 0u64;
    loop {
        let page = admin
            .get(&format!("/v1/events?since={since}&limit=1000"))
            .await?;
        for e in page["events"].as_array().into_iter().flatten() {
            since = since.max(e["seq"].as_u64().unwrap_or(0));
            if output == Output::Json {
                println!("{e}");
            } else {
                println!(
                    "{}  {:<12} {:<12} {}",
                    e["time"].as_str().unwrap_or(""),
                    e["service"].as_str().unwrap_or(""),
                    e["kind"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                );
            }
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `shoal down`: ask shoal to stop, then wait until it has.
pub async fn down(target: &Target) -> Result<(), Failure> {
    let mut admin = Admin::connect(target)?;
    admin.post("/v1/shutdown", json!({})).await?;
    eprint!("shoal is draining and stopping every instance");
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if admin.get("/v1/status").await.is_err() {
            eprintln!(" — stopped");
            return Ok(());
        }
        eprint!(".");
    }
    Err(Failure::op(
        "shoal is still running after 150s; check `shoal status`",
    ))
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

fn opt(v: &Value) -> String {
    if v.is_null() {
        "-".into()
    } else {
        v.to_string()
    }
}

/// `1.5MiB`, `2.0GiB`: memory for tables.
pub(crate) fn human_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if b as f64 >= 1024.0 * MIB {
        format!("{:.1}GiB", b as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1}MiB", b as f64 / MIB)
    }
}

/// `42s`, `3m12s`, `2h5m`: uptimes for tables.
pub(crate) fn human_secs(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse() {
        assert_eq!(parse_count("3").unwrap(), ScaleTarget::To(3));
        assert_eq!(parse_count("+2").unwrap(), ScaleTarget::By(2));
        assert_eq!(parse_count("-1").unwrap(), ScaleTarget::By(-1));
        for bad in ["", "x", "+", "-x", "1.5", "+-1"] {
            assert_eq!(parse_count(bad).unwrap_err().code, 2, "{bad}");
        }
    }
}
