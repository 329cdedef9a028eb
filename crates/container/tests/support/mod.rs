//! What the engine tests share: the test dockerd and its image, and small helpers.

pub mod dockerd;
pub mod registry;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptions, ListContainersOptions, RemoveContainerOptions};
use futures_util::StreamExt;
use shoal_container::{ContainerSpec, Engine, Ulimit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use dockerd::Dockerd;

/// The image every test runs: `FROM scratch` with a static busybox, its applets linked in
/// `/bin`, and `/www/index.html` to serve.
pub const IMAGE: &str = "shoal-test/busybox:v1";

/// What `GET /` of the image's httpd answers with.
pub const INDEX: &str = "hello from shoal's test image\n";

/// The label every test container carries, so each test finds (and removes) its own.
pub const TEST_LABEL: &str = "shoal-test.test";

/// The busybox-static binary copied into the image.
const BUSYBOX: &str = "/bin/busybox";

static ADDRESS: OnceLock<String> = OnceLock::new();

/// The shared dockerd with the test image built: made before the tests, dropped after them.
pub struct Fixture {
    daemon: Dockerd,
}

impl Fixture {
    /// Starts dockerd and builds [`IMAGE`] through the API.
    pub fn start() -> Fixture {
        let started = Instant::now();
        let daemon = Dockerd::start();
        ADDRESS
            .set(daemon.address().to_owned())
            .expect("one fixture per run");
        let built = Instant::now();
        block_on(build_image());
        eprintln!(
            "fixture: image {IMAGE} built in {:.1}s; fixture ready after {:.1}s",
            built.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        Fixture { daemon }
    }
}

impl Drop for Fixture {
    /// Removes every container a failed test left, so dockerd's shutdown does not wait for them.
    fn drop(&mut self) {
        block_on(async {
            let docker = raw_client(self.daemon.address());
            let all = ListContainersOptions {
                all: true,
                ..Default::default()
            };
            for c in docker.list_containers(Some(all)).await.unwrap_or_default() {
                let force = RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                };
                let id = c.id.unwrap_or_default();
                eprintln!("fixture: removing container {id} left by a test");
                let _ = docker.remove_container(&id, Some(force)).await;
            }
        });
    }
}

/// The test dockerd's address.
pub fn address() -> &'static str {
    ADDRESS
        .get()
        .expect("the fixture is started before the tests")
}

/// A connection to the test dockerd.
pub async fn engine() -> Engine {
    Engine::connect(Some(address()))
        .await
        .expect("connect to the test dockerd")
}

/// A bollard client for what the crate does not offer (building the test image, cleaning up).
fn raw_client(address: &str) -> bollard::Docker {
    let path = address.strip_prefix("unix://").expect("unix address");
    let version = bollard::ClientVersion {
        major_version: 1,
        minor_version: 41,
    };
    bollard::Docker::connect_with_unix(path, 120, &version).expect("client")
}

/// Builds [`IMAGE`] from a tar context made here: no registry is needed, and no docker CLI.
async fn build_image() {
    let docker = raw_client(address());
    let options = BuildImageOptions {
        t: Some(IMAGE.to_owned()),
        dockerfile: "Dockerfile".to_owned(),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let context = bollard::body_full(build_context().into());
    let mut output = docker.build_image(options, None, Some(context));
    let mut log = String::new();
    while let Some(line) = output.next().await {
        match line {
            Ok(info) => log.push_str(info.stream.as_deref().unwrap_or_default()),
            Err(e) => panic!("building {IMAGE} failed: {e}\n{log}"),
        }
    }
}

/// The build context: a Dockerfile, busybox, and the page httpd serves.
fn build_context() -> Vec<u8> {
    let dockerfile = "FROM scratch\n\
                      COPY busybox /bin/busybox\n\
                      RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
                      COPY index.html /www/index.html\n";
    tar_of(&[
        ("Dockerfile", 0o644, dockerfile.as_bytes()),
        ("busybox", 0o755, &busybox()),
        ("index.html", 0o644, INDEX.as_bytes()),
    ])
}

/// The static busybox binary (busybox-static's `/bin/busybox`): runs in an empty image.
pub fn busybox() -> Vec<u8> {
    std::fs::read(BUSYBOX).unwrap_or_else(|e| {
        panic!("{BUSYBOX}: {e}: run scripts/install-deps.sh test (busybox-static)")
    })
}

/// An uncompressed tar of `files` (path, mode, contents): a build context or an image layer.
pub fn tar_of(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        tar.append_data(&mut header, path, *data)
            .expect("tar entry");
    }
    tar.into_inner().expect("tar")
}

pub use shoal_testkit::block_on;

/// A spec of [`IMAGE`] running `sh -c script`, named and labelled for `test`, with explicit
/// ulimits (the engine's defaults are not relied on).
pub fn sh(test: &str, name: &str, script: &str) -> ContainerSpec {
    let mut spec = ContainerSpec::new(IMAGE);
    spec.name = Some(format!("{test}-{name}-{}", std::process::id()));
    spec.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
    spec.labels = BTreeMap::from([(TEST_LABEL.to_owned(), test.to_owned())]);
    spec.ulimits = vec![Ulimit::nofile(1024, 4096), Ulimit::nproc(4096, 4096)];
    spec
}

/// A loopback port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `GET path` on `127.0.0.1:port` until something answers with a status line, within `limit`
/// (a published port accepts before the program in the container listens). Returns the whole
/// answer.
pub async fn http_get(port: u16, path: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        if let Some(answer) = try_get(port, path).await {
            if answer.starts_with("HTTP/") {
                return answer;
            }
        }
        assert!(
            started.elapsed() < limit,
            "nothing answered GET {path} on 127.0.0.1:{port} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn try_get(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// A scratch directory under cargo's target tmpdir, removed on drop.
pub type TestDir = shoal_testkit::TestDir;

/// A fresh [`TestDir`] for one test.
pub fn test_dir(name: &str) -> TestDir {
    TestDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "container", name)
}
