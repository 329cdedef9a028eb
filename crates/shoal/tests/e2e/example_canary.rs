//! `examples/helm-istio-canary` (seed 004) run from its own files: `shoal up` on v1, a rolling
//! update to v2 under load, v3 as a 90/10 canary whose split is measured, then its promotion.
//! Only the listen addresses (free ports) and the taskboard path (this build's) are changed;
//! everything else, `data_dir` and the database paths included, is the example's own text.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::examples::start_example;
use super::support::*;

fn count(versions: &BTreeMap<String, usize>, version: &str) -> usize {
    versions.get(version).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helm_istio_canary_example_rolls_out_v2_and_splits_90_10_to_a_v3_canary() {
    let (ex, files) = start_example(
        "helm-istio-canary",
        &["shoal.toml", "v2.toml", "v3-canary.toml"],
        &[],
    )
    .await;
    let (v1, v2, v3) = (files[0].clone(), files[1].clone(), files[2].clone());
    ex.wait_healthy("frontend", 3, Duration::from_secs(30))
        .await;
    ex.wait_healthy("backend", 1, Duration::from_secs(30)).await;
    ex.all_instances_run("frontend", 1, "v1", 3).await;

    // One load for the whole run: 20 clients on the frontend, every request must succeed.
    let load = Load::start(ex.gateway, "/instance", 20);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // `helm upgrade` + `kubectl rollout status`: apply follows the rolling update to its end.
    let started = Instant::now();
    let out = ex.cli_async(&v2, &["apply"]).await;
    let took = started.elapsed();
    assert!(out.status.success(), "{}\n{}", text(&out), ex.log());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("~ frontend"), "{stdout}");
    assert!(
        !stdout.contains("backend"),
        "the backend did not change: {stdout}"
    );
    assert!(
        stdout.contains("frontend: revision 2 (from 1) rolling:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("frontend: revision 2 complete: every instance runs revision 2"),
        "{stdout}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let failed = load.failures_so_far();
    let after_v2 = load.versions_so_far();
    println!(
        "rolling update v1 → v2 followed by apply in {took:.1?}: {} ok so far, {} failed, answers by version {after_v2:?}",
        load.ok_so_far(),
        failed.len()
    );
    assert_no_failures(&failed);
    assert!(count(&after_v2, "v2") > 100, "{after_v2:?}");
    ex.all_instances_run("frontend", 2, "v2", 3).await;
    ex.all_instances_run("backend", 1, "v1", 1).await;

    // The canary: one v3 instance beside three v2 ones, held at 10 % until promoted.
    let out = ex.cli_async(&v3, &["apply", "--detach"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Rollouts continue in shoal"),
        "{}",
        text(&out)
    );
    ex.wait_for(
        "frontend",
        "a healthy canary",
        Duration::from_secs(60),
        |s| s["rollout"]["phase"] == "canary" && s["rollout"]["updated"] == 1,
    )
    .await;
    let s = ex.service("frontend").await;
    assert_eq!(s["rollout"]["canary_weight"], 10, "{s:#}");
    assert_eq!(s["rollout"]["revision"], 3, "{s:#}");
    assert_eq!(
        s["rollout"]["message"], "waiting for `shoal promote frontend`",
        "{s:#}"
    );

    // The split, measured on the same clients: at least 5000 answers while the canary holds.
    let before = load.versions_so_far();
    let measured_from = Instant::now();
    loop {
        let now = load.versions_so_far();
        let seen =
            count(&now, "v2") + count(&now, "v3") - count(&before, "v2") - count(&before, "v3");
        if seen >= 5000 {
            break;
        }
        assert!(
            measured_from.elapsed() < Duration::from_secs(120),
            "only {seen} answers in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = load.versions_so_far();
    let (v2, v3) = (
        count(&during, "v2") - count(&before, "v2"),
        count(&during, "v3") - count(&before, "v3"),
    );
    let share = v3 as f64 / (v2 + v3) as f64;
    println!(
        "canary split over {} requests in {:.1?}: v2 {v2}, v3 {v3} → {:.2} % to the canary (weight 10)",
        v2 + v3,
        measured_from.elapsed(),
        share * 100.0
    );
    assert_eq!(
        during
            .keys()
            .filter(|k| !["v1", "v2", "v3"].contains(&k.as_str()))
            .count(),
        0,
        "{during:?}"
    );
    assert!((0.07..=0.13).contains(&share), "canary share {share}");
    // Still the canary (analysis has not rolled it back) and no request failed.
    let s = ex.service("frontend").await;
    assert_eq!(s["rollout"]["phase"], "canary", "{s:#}");

    // The pin header: `canary` always reaches v3, `stable` always v2.
    for (pin, version) in [("canary", "v3"), ("stable", "v2")] {
        for _ in 0..10 {
            let answer =
                get_with_header(ex.gateway, "/instance", &format!("X-Shoal-Revision: {pin}")).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(
                answer.contains(&format!("\"version\":\"{version}\"")),
                "{pin}: {answer}"
            );
        }
    }

    // Promotion (the VirtualService to 100 % v3): the v2 instances are replaced, under load.
    let out = ex.cli_async(&v1, &["promote", "frontend"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let promoted = Instant::now();
    ex.wait_for(
        "frontend",
        "the promotion to complete",
        Duration::from_secs(120),
        |s| {
            s["rollout"].is_null()
                && s["last_rollout"]["revision"] == 3
                && s["last_rollout"]["result"] == "complete"
        },
    )
    .await;
    let took = promoted.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.stop().await;
    println!(
        "promotion to v3 complete in {took:.1?}; whole run under 20 clients: {} ok, {} failed, answers by version {:?}",
        report.ok,
        report.failures.len(),
        report.versions
    );
    assert_no_failures(&report.failures);
    ex.all_instances_run("frontend", 3, "v3", 3).await;
    ex.all_instances_run("backend", 1, "v1", 1).await;

    // History lists the three revisions, v3 active.
    let out = ex
        .cli_async(&v1, &["history", "frontend", "-o", "json"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history["active"], 3, "{history:#}");
}
