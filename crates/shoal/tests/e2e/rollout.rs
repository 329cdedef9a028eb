//! Rollouts under load: `apply` with a plan, rolling updates, canaries split by weight, analysis
//! that rolls a bad canary back, a revision that never gets healthy reverted, and history that
//! survives a restart. Every client request must succeed unless a test says otherwise.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::support::*;

const ROLLING: &str = r#"
[services.web.deploy]
min_healthy_time = "1s"
healthy_deadline = "20s"
progress_deadline = "40s"
"#;

/// A canary that waits at 10 % for `promote`, judged every second.
const CANARY: &str = r#"
[services.web.deploy]
strategy = "canary"
min_healthy_time = "1s"
healthy_deadline = "20s"
progress_deadline = "40s"
steps = [{ weight = 10 }]
analysis = { interval = "1s", max_error_rate = 0.05, failure_limit = 3, min_requests = 5 }
"#;

/// The web service at `version`, with extra env entries and a deploy table.
fn web(version: &str, extra_env: &str, deploy: &str) -> String {
    taskboard_service(
        "web",
        3,
        6,
        &format!(
            "env = {{ APP_VERSION = \"{version}\"{extra_env} }}\nslow_start = \"0s\"\n{deploy}"
        ),
    )
}

/// `shoal apply -f spec` in the background, following what it starts (output captured).
fn spawn_apply(spec: &std::path::Path) -> std::process::Child {
    std::process::Command::new(shoal_bin())
        .args(["apply", "-f"])
        .arg(spec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a background command without holding up the runtime.
async fn finish(child: std::process::Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// The pids of a service's instances, in slot order (the same pids = nothing was restarted).
async fn pids(shoal: &Shoal, service: &str) -> Vec<u64> {
    shoal
        .instances(service)
        .await
        .iter()
        .filter_map(|i| i["pid"].as_u64())
        .collect()
}

fn finished(s: &Value, revision: u64, result: &str) -> bool {
    s["rollout"].is_null()
        && s["last_rollout"]["revision"] == revision
        && s["last_rollout"]["result"] == result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_under_load_fails_no_request_and_ends_on_the_new_revision() {
    let shoal = Shoal::start("rolling", &web("v1", "", ROLLING)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 20);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let v2 = shoal.spec_variant("v2.toml", &web("v2", "", ROLLING));
    let started = Instant::now();
    let out = shoal.cli_async(&v2, &["apply"]).await;
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("env: {APP_VERSION=#"), "{stdout}");
    assert!(stdout.contains("[rollout]"), "{stdout}");
    assert!(stdout.contains("updated"), "progress lines: {stdout}");
    assert!(stdout.contains("revision 2 complete"), "{stdout}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    println!(
        "rolling update 3 instances v1 → v2 in {took:.1?} under 20 clients: {} ok, {} failed, answers by version {:?}",
        report.ok,
        report.failures.len(),
        report.versions
    );
    assert_no_failures(&report.failures);
    assert!(report.versions.get("v2").copied().unwrap_or(0) > 100);
    shoal.all_instances_run("web", 2, "v2", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_gets_its_weight_of_requests_and_promotion_fails_none() {
    let shoal = Shoal::start("canary", &web("v1", "", CANARY)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let v2 = shoal.spec_variant("v2.toml", &web("v2", "", CANARY));
    let out = shoal.cli_async(&v2, &["apply", "--detach"]).await;
    assert!(out.status.success(), "{}", text(&out));
    shoal
        .wait_for("web", "a healthy canary", Duration::from_secs(30), |s| {
            s["rollout"]["phase"] == "canary" && s["rollout"]["updated"] == 1
        })
        .await;
    let s = shoal.service("web").await;
    assert_eq!(s["rollout"]["canary_weight"], 10);
    assert_eq!(s["rollout"]["message"], "waiting for `shoal promote web`");
    // `status` shows the rollout for people too.
    let table = String::from_utf8_lossy(&shoal.cli(&["status"]).stdout).to_string();
    assert!(
        table.contains("web rolling out: revision 2 (from 1) canary"),
        "{table}"
    );

    // The split is by weight: 1 canary instance beside 3 stable ones still gets 10 %.
    let load = Load::start(shoal.gateway, "/instance", 10);
    while load.ok_so_far() < 3000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = load.stop().await;
    let canary = report.versions.get("v2").copied().unwrap_or(0) as f64;
    let total = report.versions.values().sum::<usize>() as f64;
    let share = canary / total;
    println!("canary share over {total} requests: {:.2} %", share * 100.0);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!((0.07..=0.13).contains(&share), "canary share {share}");

    // The pin header sends a request to the canary.
    for _ in 0..20 {
        let answer = get_with_header(shoal.gateway, "/instance", "X-Shoal-Revision: canary").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\"version\":\"v2\""), "{answer}");
    }

    // Promotion under load: the stable instances are replaced with the rolling rules.
    let load = Load::start(shoal.gateway, "/instance", 20);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = shoal.cli(&["promote", "web", "--full"]);
    assert!(out.status.success(), "{}", text(&out));
    shoal
        .wait_for(
            "web",
            "the promotion to finish",
            Duration::from_secs(60),
            |s| finished(s, 2, "complete"),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    shoal.all_instances_run("web", 2, "v2", 3).await;
    // After the promotion every answer comes from the new revision.
    let load = Load::start(shoal.gateway, "/instance", 4);
    while load.ok_so_far() < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = load.stop().await;
    assert_eq!(report.versions.keys().collect::<Vec<_>>(), vec!["v2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_rolled_back_by_its_analysis() {
    let shoal = Shoal::start("bad-canary", &web("v1", "", CANARY)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 20);
    let bad = shoal.spec_variant("v2.toml", &web("v2", ", FAIL_RATE = \"0.5\"", CANARY));
    let out = shoal.cli_async(&bad, &["apply", "--detach"]).await;
    assert!(out.status.success(), "{}", text(&out));
    shoal
        .wait_for("web", "a healthy canary", Duration::from_secs(30), |s| {
            s["rollout"]["phase"] == "canary" && s["rollout"]["updated"] == 1
        })
        .await;
    let healthy_at = Instant::now();
    shoal
        .wait_for(
            "web",
            "the canary to be rolled back",
            Duration::from_secs(30),
            |s| s["last_rollout"]["revision"] == 2 && s["last_rollout"]["result"] == "reverted",
        )
        .await;
    let took = healthy_at.elapsed();
    shoal
        .wait_for(
            "web",
            "the revert to finish",
            Duration::from_secs(30),
            |s| s["rollout"].is_null(),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    let failed = report.failures.len() as f64;
    let share = failed / (failed + report.ok as f64);
    let s = shoal.service("web").await;
    println!(
        "bad canary rolled back {took:.1?} after it became healthy: {}; clients: {} ok, {} failed ({:.2} %)",
        s["last_rollout"]["message"],
        report.ok,
        failed,
        share * 100.0
    );
    // failure_limit (3) checks one second apart, plus slack for a loaded machine.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(
        s["last_rollout"]["message"]
            .as_str()
            .unwrap()
            .contains("canary analysis: 3 of 3 checks failed"),
        "{s:#}"
    );
    assert!(
        share < 0.10,
        "failed share {share} is not under the canary weight"
    );
    assert!(
        report.failures.iter().all(|f| f.starts_with("status 500")),
        "{:?}",
        report.failures
    );
    shoal.all_instances_run("web", 1, "v1", 3).await;
    let history = shoal.cli(&["history", "web", "-o", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(history["active"], 1);
    assert_eq!(history["revisions"][1]["status"], "failed", "{history:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_that_never_gets_healthy_is_reverted_without_failed_requests() {
    let deploy = r#"
[services.web.deploy]
min_healthy_time = "1s"
healthy_deadline = "3s"
progress_deadline = "6s"
"#;
    let shoal = Shoal::start("never-healthy", &web("v1", "", deploy)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 20);
    // Revision 2 runs but never listens: it can never pass a health check.
    let broken = shoal.spec_variant(
        "broken.toml",
        &web("v1", "", deploy).replace(
            r#"command = ["{taskboard}", "--port", "{port}", "--db", "{dir}/tasks.db"]"#,
            r#"command = ["/bin/sleep", "600"]"#,
        ),
    );
    let out = shoal.cli_async(&broken, &["apply"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("revision 2 reverted") && stdout.contains("healthy_deadline 3s"),
        "{stdout}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    shoal.all_instances_run("web", 1, "v1", 3).await;
    let events = shoal.events().await;
    assert!(
        events.iter().any(|e| e["kind"] == "rollout_failed"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("reverting to revision 1")),
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_twice_dry_run_and_a_bad_file_change_nothing() {
    let shoal = Shoal::start("apply", &web("v1", "", ROLLING)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let before = pids(&shoal, "web").await;

    let out = shoal.cli(&["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No changes"),
        "{}",
        text(&out)
    );

    let v2 = shoal.spec_variant("v2.toml", &web("v2", "", ROLLING));
    let out = shoal.cli_async(&v2, &["apply", "--dry-run"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("~ web") && stdout.contains("Dry run"),
        "{stdout}"
    );

    let bad = shoal.spec_variant(
        "bad.toml",
        &web("v2", "", ROLLING).replace(
            "min = 1, desired = 3, max = 6",
            "min = 1, desired = 9, max = 6",
        ),
    );
    let out = shoal.cli_async(&bad, &["apply"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml:"),
        "{}",
        text(&out)
    );

    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = shoal.service("web").await;
    assert!(s["rollout"].is_null(), "{s:#}");
    assert_eq!(pids(&shoal, "web").await, before);
    shoal.all_instances_run("web", 1, "v1", 3).await;

    // An in-place change: more instances of the same revision, no rollout.
    let more = shoal.spec_variant(
        "more.toml",
        &web("v1", "", ROLLING).replace("desired = 3", "desired = 4"),
    );
    let out = shoal.cli_async(&more, &["apply"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(in place)"),
        "{}",
        text(&out)
    );
    shoal.wait_healthy("web", 4, Duration::from_secs(30)).await;
    shoal.all_instances_run("web", 1, "v1", 4).await;
    let out = shoal.cli_async(&more, &["apply"]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No changes"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_rollback_to_work_after_a_restart() {
    let mut shoal = Shoal::start("history", &web("v1", "", ROLLING)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    // GitOps: the file itself moves to v2 and is applied.
    std::fs::write(
        &shoal.spec,
        std::fs::read_to_string(shoal.spec_variant("v2.toml", &web("v2", "", ROLLING))).unwrap(),
    )
    .unwrap();
    let spec = shoal.spec.clone();
    let out = shoal.cli_async(&spec, &["apply"]).await;
    assert!(out.status.success(), "{}", text(&out));

    assert_eq!(shoal.terminate(Duration::from_secs(30)), Some(0));
    shoal.relaunch().await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    shoal.all_instances_run("web", 2, "v2", 3).await;
    let out = shoal.cli(&["history", "web"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        table.contains("superseded") && table.contains("2 *"),
        "{table}"
    );
    assert!(
        !table.contains("v1") && !table.contains("v2"),
        "env values never shown: {table}"
    );

    let load = Load::start(shoal.gateway, "/instance", 10);
    let out = shoal.cli(&["rollback", "web", "--to", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    shoal
        .wait_for("web", "the rollback", Duration::from_secs(60), |s| {
            finished(s, 1, "rolled_back")
        })
        .await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    shoal.all_instances_run("web", 1, "v1", 3).await;

    // The rollback survives a restart too (the file still says v2, as when it was applied).
    assert_eq!(shoal.terminate(Duration::from_secs(30)), Some(0));
    shoal.relaunch().await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    shoal.all_instances_run("web", 1, "v1", 3).await;
    // The file still says v2: applying it again rolls v2 out again (GitOps converges).
    let spec = shoal.spec.clone();
    let out = shoal.cli_async(&spec, &["apply"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revision 2 complete"),
        "{}",
        text(&out)
    );
    shoal.all_instances_run("web", 2, "v2", 3).await;
    // `rollback` without --to goes back (to 1), never forward.
    let out = shoal.cli(&["rollback", "web"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("to revision 1"),
        "{}",
        text(&out)
    );

    // Asking for what does not exist is bad input (2); asking what cannot be done now fails (1).
    let out = shoal.cli(&["rollback", "web", "--to", "7"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no revision 7"),
        "{}",
        text(&out)
    );
    let out = shoal.cli(&["promote", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no canary in progress"),
        "{}",
        text(&out)
    );
}

/// Instances of each revision (any state but stopping).
async fn by_revision(shoal: &Shoal) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for i in shoal.instances("web").await {
        if i["state"] != "draining" && i["state"] != "stopped" {
            *counts.entry(i["revision"].as_u64().unwrap()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_runs_its_weight_of_the_desired_count_as_the_count_changes() {
    let canary = CANARY.replace("steps = [{ weight = 10 }]", "steps = [{ weight = 50 }]");
    let web = |version: &str| {
        taskboard_service(
            "web",
            4,
            8,
            &format!("env = {{ APP_VERSION = \"{version}\" }}\nslow_start = \"0s\"\n{canary}"),
        )
    };
    let shoal = Shoal::start("canary-scale", &web("v1")).await;
    shoal.wait_healthy("web", 4, Duration::from_secs(30)).await;
    let out = shoal
        .cli_async(
            &shoal.spec_variant("v2.toml", &web("v2")),
            &["apply", "--detach"],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    // max(1, round(weight × desired)) canary instances beside the desired stable ones.
    for (desired, canary, stable) in [(4u32, 2usize, 4usize), (2, 1, 2), (6, 3, 6)] {
        if desired != 4 {
            let out = shoal.cli(&["scale", "web", &desired.to_string()]);
            assert!(out.status.success(), "{}", text(&out));
        }
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let counts = by_revision(&shoal).await;
            if counts.get(&2) == Some(&canary) && counts.get(&1) == Some(&stable) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "desired {desired}: want {canary} canary + {stable} stable, have {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(shoal.service("web").await["rollout"]["canary_weight"], 50);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_following_and_the_rollout_goes_on() {
    let slow = ROLLING.replace("min_healthy_time = \"1s\"", "min_healthy_time = \"3s\"");
    let shoal = Shoal::start("ctrl-c", &web("v1", "", &slow)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let v2 = shoal.spec_variant("v2.toml", &web("v2", "", &slow));
    let apply = spawn_apply(&v2);
    shoal
        .wait_for(
            "web",
            "the rollout to start",
            Duration::from_secs(20),
            |s| !s["rollout"].is_null(),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    signal(apply.id(), "INT");
    let out = finish(apply).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the rollout goes on in shoal"),
        "{}",
        text(&out)
    );
    assert!(
        !shoal.service("web").await["rollout"].is_null(),
        "still rolling"
    );
    shoal
        .wait_for(
            "web",
            "the rollout to finish",
            Duration::from_secs(60),
            |s| finished(s, 2, "complete"),
        )
        .await;
    shoal.all_instances_run("web", 2, "v2", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_adds_and_removes_services() {
    let shoal = Shoal::start("apply-services", &web("v1", "", ROLLING)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let api = r#"
[services.api]
command = ["{taskboard}", "--port", "{port}", "--db", "{dir}/api.db"]
route = "/api"
instances = { min = 1, desired = 2, max = 3 }
health = { path = "/health", interval = "300ms", timeout = "250ms" }
env = { APP_VERSION = "api-v1" }
"#;
    let both = shoal.spec_variant("both.toml", &format!("{}{api}", web("v1", "", ROLLING)));
    let out = shoal.cli_async(&both, &["apply"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("+ api"),
        "{}",
        text(&out)
    );
    shoal.wait_healthy("api", 2, Duration::from_secs(30)).await;
    let (code, body) = http_get(shoal.gateway, "/api/tasks").await.unwrap();
    assert_eq!(code, 200, "{body}");

    // Back to the first file: api drains and goes; web is untouched.
    let web_pids = pids(&shoal, "web").await;
    let out = shoal.cli_async(&shoal.spec, &["apply"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("- api"),
        "{}",
        text(&out)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let names: Vec<Value> = shoal.status().await["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].clone())
            .collect();
        if names == ["web"] {
            break;
        }
        assert!(Instant::now() < deadline, "api still listed: {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = http_get(shoal.gateway, "/api/tasks").await.unwrap();
    assert_eq!(code, 200, "/api/tasks now falls to web's / route");
    assert_eq!(pids(&shoal, "web").await, web_pids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_with_timed_pauses_promotes_itself_after_its_last_step() {
    let timed = CANARY.replace(
        "steps = [{ weight = 10 }]",
        r#"steps = [{ weight = 20, pause = "2s" }, { weight = 50, pause = "2s" }]"#,
    );
    let shoal = Shoal::start("canary-timed", &web("v1", "", &timed)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 10);
    let out = shoal
        .cli_async(
            &shoal.spec_variant("v2.toml", &web("v2", "", &timed)),
            &["apply"],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("step 1/2 at 20 %"), "{stdout}");
    assert!(stdout.contains("step 2/2 at 50 %"), "{stdout}");
    assert!(stdout.contains("revision 2 complete"), "{stdout}");
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    shoal.all_instances_run("web", 2, "v2", 3).await;
    let events = shoal.events().await;
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .unwrap()
            .contains("canary revision 2 promoted")),
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_during_a_canary_ends_the_apply_that_follows_it() {
    let shoal = Shoal::start("canary-rollback", &web("v1", "", CANARY)).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 10);
    let v2 = shoal.spec_variant("v2.toml", &web("v2", "", CANARY));
    let apply = spawn_apply(&v2);
    shoal
        .wait_for("web", "a healthy canary", Duration::from_secs(30), |s| {
            s["rollout"]["phase"] == "canary" && s["rollout"]["updated"] == 1
        })
        .await;
    let out = shoal.cli(&["rollback", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    // The follower ends (it does not wait forever for a rollout that is gone), and says how.
    let out = finish(apply).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revision 2 rolled_back"),
        "{}",
        text(&out)
    );
    shoal
        .wait_for(
            "web",
            "the canary to be gone",
            Duration::from_secs(30),
            |s| {
                s["rollout"].is_null()
                    && s["instances"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|i| i["revision"] == 1)
            },
        )
        .await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    shoal.all_instances_run("web", 1, "v1", 3).await;
}
