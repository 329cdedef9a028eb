//! The admin API: reads are open on loopback; every mutation needs the token and changes nothing
//! without it.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_without_the_token_are_refused_and_change_nothing() {
    let shoal = Shoal::start("token", &taskboard_service("web", 1, 3, "")).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;
    let token_file = shoal.dir.join("data/token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "token file must be private");

    for token in [None, Some("wrong-token")] {
        let (code, body) = request_with_body(
            shoal.admin,
            "POST",
            "/v1/services/web/scale",
            token,
            Some(r#"{"count": 3}"#),
        )
        .await
        .unwrap();
        assert_eq!(code, 401, "{body}");
        assert!(body.contains("token"), "{body}");
        let (code, _) = request(shoal.admin, "POST", "/v1/shutdown", token)
            .await
            .unwrap();
        assert_eq!(code, 401);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = shoal.status().await;
    assert_eq!(status["services"][0]["desired"], 1);
    assert_eq!(shoal.instances("web").await.len(), 1);

    // With the token: accepted.
    let token = shoal.token();
    let (code, body) = request_with_body(
        shoal.admin,
        "POST",
        "/v1/services/web/scale",
        Some(&token),
        Some(r#"{"count": 2}"#),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;

    // Bad requests are refused with a reason and change nothing.
    for (body, want) in [
        (r#"{"count": 99}"#, 422),
        (r#"{"count": 1, "delta": 1}"#, 400),
        (r#"{"replicas": 1}"#, 400),
        ("not json", 400),
    ] {
        let (code, answer) = request_with_body(
            shoal.admin,
            "POST",
            "/v1/services/web/scale",
            Some(&token),
            Some(body),
        )
        .await
        .unwrap();
        assert_eq!(code, want, "{body} → {answer}");
        assert!(answer.contains("\"error\""), "{answer}");
    }
    let (code, _) = request_with_body(
        shoal.admin,
        "POST",
        "/v1/services/nope/scale",
        Some(&token),
        Some(r#"{"count": 1}"#),
    )
    .await
    .unwrap();
    assert_eq!(code, 404);
    assert_eq!(shoal.status().await["services"][0]["desired"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_verbs_report_clearly_and_use_the_contract_exit_codes() {
    let mut shoal = Shoal::start("cli", &taskboard_service("web", 1, 3, "")).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;

    let out = shoal.cli(&["scale", "web", "7"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allowed range is 1..=3"), "{err}");

    let out = shoal.cli(&["scale", "web", "lots"]);
    assert_eq!(out.status.code(), Some(2));

    let out = shoal.cli(&["scale", "web", "+1"]);
    assert!(out.status.success());
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;

    let out = shoal.cli(&["status", "-o", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services"][0]["instances"].as_array().unwrap().len(), 2);

    let out = shoal.cli(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("web-2") && table.contains("healthy"),
        "{table}"
    );

    let out = shoal.cli(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(2));

    // Logs: every instance, prefixed.
    let out = shoal.cli(&["logs", "web", "--lines", "5"]);
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("web-1 | ") && logs.contains("web-2 | "),
        "{logs}"
    );
    assert!(logs.contains("listening on"), "{logs}");

    let out = shoal.cli(&["events"]);
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(events.contains("scaled from 1 to 2"), "{events}");

    // The scaled count survives a restart of shoal.
    let out = shoal.cli(&["down"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = shoal.cli(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "status against a stopped shoal must fail"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `shoal up` running?"));
    shoal.relaunch().await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    assert_eq!(shoal.status().await["services"][0]["desired"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verbs_reach_shoal_after_a_program_in_the_spec_has_moved() {
    // The service runs a copy of taskboard that is removed once shoal is up (a redeploy moved
    // it): reading the spec for the admin address must not insist that it still exists.
    let dir = scratch_dir("moved-program");
    std::fs::copy(taskboard_bin(), dir.join("taskboard-copy")).unwrap();
    let gateway: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let spec = dir.join("shoal.toml");
    std::fs::write(
        &spec,
        format!(
            "[gateway]\nlisten = \"{gateway}\"\n[admin]\nlisten = \"{admin}\"\ndata_dir = \"data\"\n\n{}",
            taskboard_service("web", 1, 2, "")
                .replace("{taskboard}", "./taskboard-copy")
                .replace("{dir}", dir.to_str().unwrap())
        ),
    )
    .unwrap();
    let shoal = Shoal::launch(dir.clone(), spec, gateway, admin).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;
    std::fs::remove_file(dir.join("taskboard-copy")).unwrap();

    let out = shoal.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("web-1"));
    let out = shoal.cli(&["scale", "web", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    // Validation still checks programs: the file no longer describes something runnable.
    let out = shoal.cli(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("taskboard-copy"),
        "{}",
        text(&out)
    );
}
