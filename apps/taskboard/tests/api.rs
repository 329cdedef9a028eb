//! The task API, the HTML page and sharing one database between instances.

mod common;

use std::time::Duration;

use common::{wait_until, Launch, TempDir};
use serde_json::json;

#[test]
fn crud_round_trip() {
    let dir = TempDir::new("crud");
    let server = Launch::new(&dir.db()).start();

    let empty = server.get("/api/tasks");
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json(), json!([]));

    let created = server.send_json("POST", "/api/tasks", r#"{"title":"write docs"}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json")));
    let task = created.json();
    let id = task["id"].as_i64().expect("numeric id");
    assert_eq!(task["title"], "write docs");
    assert_eq!(task["done"], false);
    let created_at = task["created_at"].as_str().expect("created_at string");
    assert!(
        created_at.len() == 20 && created_at.as_bytes()[10] == b'T' && created_at.ends_with('Z'),
        "not RFC 3339: {created_at}"
    );

    let fetched = server.get(&format!("/api/tasks/{id}"));
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), task);

    let done = server.send_json("PUT", &format!("/api/tasks/{id}"), r#"{"done":true}"#);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["done"], true);
    assert_eq!(done.json()["title"], "write docs");

    let renamed = server.send_json(
        "PUT",
        &format!("/api/tasks/{id}"),
        r#"{"title":"write better docs"}"#,
    );
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json()["title"], "write better docs");
    assert_eq!(renamed.json()["done"], true);

    let list = server.get("/api/tasks").json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0], renamed.json());

    let deleted = server.call("DELETE", &format!("/api/tasks/{id}"), None, "");
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, "");

    let gone = server.get(&format!("/api/tasks/{id}"));
    assert_eq!(gone.status, 404);
    assert!(gone.json()["error"].is_string());
    assert_eq!(
        server
            .call("DELETE", &format!("/api/tasks/{id}"), None, "")
            .status,
        404
    );
    assert_eq!(
        server
            .send_json("PUT", &format!("/api/tasks/{id}"), r#"{"done":false}"#)
            .status,
        404
    );
}

#[test]
fn bad_inputs_are_rejected_with_400() {
    let dir = TempDir::new("bad");
    let server = Launch::new(&dir.db()).start();
    let id = server
        .send_json("POST", "/api/tasks", r#"{"title":"ok"}"#)
        .json()["id"]
        .as_i64()
        .expect("id");
    let task_path = format!("/api/tasks/{id}");
    let too_long = format!(r#"{{"title":"{}"}}"#, "x".repeat(201));

    let json_cases = [
        ("POST", "/api/tasks", r#"{"title":"#),
        ("POST", "/api/tasks", "not json"),
        ("POST", "/api/tasks", "{}"),
        ("POST", "/api/tasks", r#"{"title":""}"#),
        ("POST", "/api/tasks", r#"{"title":"   "}"#),
        ("POST", "/api/tasks", r#"{"title":42}"#),
        ("POST", "/api/tasks", too_long.as_str()),
        ("PUT", task_path.as_str(), r#"{"done":"yes"}"#),
        ("PUT", task_path.as_str(), r#"{"title":""}"#),
        ("PUT", task_path.as_str(), "[1,"),
    ];
    for (method, path, body) in json_cases {
        let response = server.send_json(method, path, body);
        assert_eq!(response.status, 400, "{method} {path} {body}: {response:?}");
        assert!(
            response.json()["error"].is_string(),
            "{method} {path} {body}: {response:?}"
        );
    }

    for path in [
        "/api/tasks/abc",
        "/work?ms=abc",
        "/work",
        "/work?ms=-1",
        "/sleep?ms=1.5",
        "/sleep",
    ] {
        let response = server.get(path);
        assert_eq!(response.status, 400, "{path}: {response:?}");
        assert!(response.json()["error"].is_string(), "{path}: {response:?}");
    }

    let max = format!(r#"{{"title":"{}"}}"#, "x".repeat(200));
    assert_eq!(server.send_json("POST", "/api/tasks", &max).status, 201);

    assert_eq!(server.send_form("/tasks", "title=").status, 400);
    assert_eq!(server.send_form("/tasks", "nothing=here").status, 400);

    // Nothing invalid was stored.
    assert_eq!(
        server.get("/api/tasks").json().as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn html_page_and_forms() {
    let dir = TempDir::new("page");
    let server = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-1")
        .env("APP_VERSION", "v3")
        .start();

    let created = server.send_form(
        "/tasks",
        "title=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%26+more",
    );
    assert_eq!(created.status, 303);
    assert_eq!(created.header("location"), Some("/"));

    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("text/html")));
    assert!(page.body.contains("<title>taskboard</title>"));
    assert!(page.body.contains(&format!(
        "served by web-1 (pid {}, port {}, version v3)",
        server.pid(),
        server.port
    )));
    assert!(page.body.contains("live instances: 1"), "{}", page.body);
    assert!(page
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(!page.body.contains("<script>"));

    let task = &server.get("/api/tasks").json()[0];
    let id = task["id"].as_i64().expect("id");
    assert_eq!(task["title"], "<script>alert(1)</script> & more");
    assert!(page
        .body
        .contains(&format!("action=\"/tasks/{id}/toggle\"")));
    assert!(page
        .body
        .contains(&format!("action=\"/tasks/{id}/delete\"")));

    let toggled = server.send_form(&format!("/tasks/{id}/toggle"), "");
    assert_eq!(toggled.status, 303);
    assert_eq!(server.get(&format!("/api/tasks/{id}")).json()["done"], true);

    let deleted = server.send_form(&format!("/tasks/{id}/delete"), "");
    assert_eq!(deleted.status, 303);
    assert_eq!(server.get(&format!("/api/tasks/{id}")).status, 404);
    assert!(server.get("/").body.contains("Nothing here yet"));
}

#[test]
fn live_instances_override_from_environment() {
    let dir = TempDir::new("live");
    let server = Launch::new(&dir.db())
        .env("SHOAL_LIVE_INSTANCES", "7")
        .start();
    assert!(server.get("/").body.contains("live instances: 7"));
}

#[test]
fn two_instances_share_one_database() {
    let dir = TempDir::new("shared");
    let a = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-a")
        .start();
    let mut b = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-b")
        .start();

    let from_a = a
        .send_json("POST", "/api/tasks", r#"{"title":"from a"}"#)
        .json();
    let from_b = b
        .send_json("POST", "/api/tasks", r#"{"title":"from b"}"#)
        .json();
    assert_ne!(from_a["id"], from_b["id"]);

    for server in [&a, &b] {
        let titles: Vec<String> = server
            .get("/api/tasks")
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|task| task["title"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(titles, ["from a", "from b"]);
    }

    let id = from_a["id"].as_i64().expect("id");
    let updated = b.send_json("PUT", &format!("/api/tasks/{id}"), r#"{"done":true}"#);
    assert_eq!(updated.status, 200);
    assert_eq!(a.get(&format!("/api/tasks/{id}")).json()["done"], true);
    assert_eq!(
        a.call("DELETE", &format!("/api/tasks/{id}"), None, "")
            .status,
        204
    );
    assert_eq!(b.get(&format!("/api/tasks/{id}")).status, 404);

    // Both beat into the shared heartbeat table before becoming ready.
    assert!(a.get("/").body.contains("live instances: 2"));
    assert!(b.get("/").body.contains("served by web-b"));

    // A cleanly stopped instance drops out of the count at once.
    b.signal("TERM");
    assert!(b.wait_exit(Duration::from_secs(15)).success());
    wait_until(Duration::from_secs(10), "live count to drop", || {
        a.get("/").body.contains("live instances: 1")
    });
}

#[test]
fn metrics_count_requests_by_route() {
    let dir = TempDir::new("metrics");
    let server = Launch::new(&dir.db()).start();
    server.send_json("POST", "/api/tasks", r#"{"title":"one"}"#);
    server.get("/api/tasks/1");
    server.get("/api/tasks/999");
    server.get("/nowhere");

    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("text/plain")));
    let body = &metrics.body;
    for expected in [
        "# TYPE taskboard_requests_total counter",
        "# HELP taskboard_tasks ",
        "# TYPE taskboard_tasks gauge",
        "taskboard_up 1",
        "taskboard_tasks 1",
        "taskboard_requests_total{route=\"/api/tasks\",status=\"201\"} 1",
        "taskboard_requests_total{route=\"/api/tasks/{id}\",status=\"200\"} 1",
        "taskboard_requests_total{route=\"/api/tasks/{id}\",status=\"404\"} 1",
        "taskboard_requests_total{route=\"unmatched\",status=\"404\"} 1",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in:\n{body}");
    }
    assert!(
        body.contains("taskboard_requests_total{route=\"/health\",status=\"200\"}"),
        "{body}"
    );
}
