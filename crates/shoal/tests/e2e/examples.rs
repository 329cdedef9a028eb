//! Running the repository's `examples/*` from their own files: copies with free ports and this
//! build's taskboard, everything else (and any edit a test makes, named by the test) as written.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::support::*;

/// An example's directory in the repository.
pub fn example_dir(example: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
}

/// Replaces exactly `count` occurrences of `from` (so that a changed example fails here, loudly,
/// instead of silently running on the example's fixed ports or release binary).
fn replace_exactly(text: &str, from: &str, to: &str, count: usize, file: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        count,
        "{file}: expected {from} {count} time(s)"
    );
    text.replace(from, to)
}

/// Copies `files` of `examples/<example>` into a scratch directory — listen addresses on free
/// ports, the release taskboard (if any) replaced by this build's, then `edits` (each must match exactly
/// once) — and starts `shoal up` on the first file. Returns shoal and the copies' paths.
pub async fn start_example(
    example: &str,
    files: &[&str],
    edits: &[(&str, &str)],
) -> (Shoal, Vec<PathBuf>) {
    let dir = scratch_dir(&format!("example-{example}"));
    let gateway: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let taskboard = format!("\"{}\"", taskboard_bin().display());
    let release = "\"../../target/release/taskboard\"";
    let copies: Vec<PathBuf> = files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(example_dir(example).join(file))
                .unwrap_or_else(|e| panic!("{example}/{file}: {e}"));
            let mut text = replace_exactly(
                &text,
                "\"127.0.0.1:8080\"",
                &format!("\"{gateway}\""),
                1,
                file,
            );
            text = replace_exactly(
                &text,
                "\"127.0.0.1:7070\"",
                &format!("\"{admin}\""),
                1,
                file,
            );
            // Examples that run the demo app run this build's.
            text = text.replace(release, &taskboard);
            for (from, to) in edits {
                if text.contains(from) {
                    text = replace_exactly(&text, from, to, 1, file);
                }
            }
            let path = dir.join(file);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let shoal = Shoal::launch(dir, copies[0].clone(), gateway, admin).await;
    (shoal, copies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_serves_three_instances_behind_the_gateway() {
    let (shoal, _) = start_example("quickstart", &["shoal.toml"], &[]).await;
    shoal
        .wait_healthy("web", 3, std::time::Duration::from_secs(30))
        .await;
    let (code, page) = http_get(shoal.gateway, "/").await.unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("served by"), "{page}");
    let load = Load::start(shoal.gateway, "/instance", 6);
    while load.ok_so_far() < 600 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    assert_eq!(report.served_by.len(), 3, "{:?}", report.served_by);
}
