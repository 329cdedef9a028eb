//! A program that knows nothing of shoal is run, checked and balanced the same way.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_server_is_run_checked_and_balanced() {
    let services = r#"[services.files]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "{dir}"]
route = "/"
instances = { min = 1, desired = 2, max = 2 }
health = { path = "/", interval = "300ms", timeout = "250ms", healthy_threshold = 2, unhealthy_threshold = 2 }
slow_start = "0s"
"#;
    let shoal = Shoal::start("foreign", services).await;
    std::fs::write(shoal.dir.join("hello.txt"), "hello from python\n").unwrap();
    shoal
        .wait_healthy("files", 2, Duration::from_secs(60))
        .await;
    for _ in 0..40 {
        let (code, body) = http_get(shoal.gateway, "/hello.txt").await.unwrap();
        assert_eq!((code, body.as_str()), (200, "hello from python\n"));
    }
    let served: Vec<u64> = shoal
        .instances("files")
        .await
        .iter()
        .map(|i| i["requests"].as_u64().unwrap())
        .collect();
    assert!(served.iter().all(|n| *n >= 5), "unbalanced: {served:?}");
    assert_eq!(served.iter().sum::<u64>(), 40);
}
