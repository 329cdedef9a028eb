//! The engine client against a real Docker Engine: a dockerd of the tests' own (started before
//! the tests, stopped after them, see `support/dockerd.rs`) and an image built through its API
//! from busybox-static.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use shoal_container::{
    AddressOrigin, BindMount, ContainerId, Engine, EngineError, LogStream, Network, Pull,
    PullProgress,
};
use shoal_runtime::cpu_percent;
use tokio::time::{timeout, Instant};

use support::registry::Registry;
use support::{
    block_on, engine, free_port, http_get, sh, tar_of, test_dir, Fixture, IMAGE, INDEX, TEST_LABEL,
};

/// Generous limits: the tests run on small, busy machines.
const LIMIT: Duration = Duration::from_secs(60);

const TESTS: &[shoal_testkit::Test] = &[
    (
        "connect_errors_name_the_address",
        connect_errors_name_the_address,
    ),
    ("connect_reports_the_engine", connect_reports_the_engine),
    (
        "absent_images_say_how_to_build_them",
        absent_images_say_how_to_build_them,
    ),
    (
        "pull_reports_progress_and_the_image_runs",
        pull_reports_progress_and_the_image_runs,
    ),
    ("published_port_serves_http", published_port_serves_http),
    ("host_network_serves_http", host_network_serves_http),
    (
        "logs_keep_stdout_and_stderr_apart",
        logs_keep_stdout_and_stderr_apart,
    ),
    (
        "env_workdir_entrypoint_and_ulimits_apply",
        env_workdir_entrypoint_and_ulimits_apply,
    ),
    (
        "usage_reads_a_half_core_limit",
        usage_reads_a_half_core_limit,
    ),
    ("exit_codes_are_reported", exit_codes_are_reported),
    (
        "kill_is_reported_and_wait_is_cancel_safe",
        kill_is_reported_and_wait_is_cancel_safe,
    ),
    ("stop_kills_after_the_grace", stop_kills_after_the_grace),
    ("port_in_use_is_a_clear_error", port_in_use_is_a_clear_error),
    (
        "bind_mount_writes_reach_the_host",
        bind_mount_writes_reach_the_host,
    ),
    (
        "remove_labelled_removes_only_those",
        remove_labelled_removes_only_those,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(shoal_testkit::run(TESTS, &args[1..], Fixture::start));
}

/// Removes `id` at the end of a test that passed (the fixture removes what failed ones leave).
async fn cleanup(engine: &Engine, id: &ContainerId) {
    engine.remove(id).await.expect("remove");
}

fn connect_errors_name_the_address() {
    block_on(async {
        let dir = test_dir("connect");
        let missing = format!("unix://{}/none.sock", dir.path().display());
        let e = Engine::connect(Some(&missing)).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(
            e,
            EngineError::Unreachable {
                origin: AddressOrigin::Configured,
                ..
            }
        ));
        assert!(text.contains(&format!("{missing} (configured)")), "{text}");
        assert!(text.contains("no socket at"), "{text}");
        assert!(
            text.contains("dockerd") && text.contains("DOCKER_HOST"),
            "{text}"
        );

        // A socket file nobody listens on any more: refused.
        let path = dir.path().join("dead.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let dead = format!("unix://{}", path.display());
        let text = Engine::connect(Some(&dead)).await.unwrap_err().to_string();
        assert!(text.contains(&dead), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");

        let tcp = format!("tcp://127.0.0.1:{}", free_port());
        let text = Engine::connect(Some(&tcp)).await.unwrap_err().to_string();
        assert!(
            text.contains(&tcp) && text.to_lowercase().contains("refused"),
            "{text}"
        );

        let e = Engine::connect(Some("ssh://me@host")).await.unwrap_err();
        assert!(matches!(e, EngineError::BadAddress { .. }), "{e}");
    })
}

fn connect_reports_the_engine() {
    block_on(async {
        let engine = engine().await;
        assert_eq!(engine.address(), support::address());
        assert_eq!(engine.origin(), AddressOrigin::Configured);
        let version = engine.version();
        assert_eq!(version.product, "Docker Engine", "{version:?}");
        assert!(!version.version.is_empty(), "{version:?}");
        assert!(version.api_version.starts_with("1."), "{version:?}");
    })
}

fn absent_images_say_how_to_build_them() {
    block_on(async {
        let engine = engine().await;
        let absent = "shoal-test/absent:v1";
        assert!(!engine.image_present(absent).await.unwrap());
        let e = engine
            .ensure_image(absent, Pull::Never, |p| panic!("no pull expected: {p:?}"))
            .await
            .unwrap_err();
        assert!(matches!(e, EngineError::ImageMissing { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("docker build -t {absent} .")),
            "{text}"
        );
        assert!(text.contains(&format!("docker pull {absent}")), "{text}");

        // Present: nothing to do under either policy.
        assert!(engine.image_present(IMAGE).await.unwrap());
        for pull in [Pull::Never, Pull::Missing] {
            engine
                .ensure_image(IMAGE, pull, |p| panic!("no pull expected: {p:?}"))
                .await
                .unwrap();
        }

        // Missing and absent: a pull, which fails here (no registry listens there), naming the
        // image and how to build it.
        let unpullable = format!("127.0.0.1:{}/shoal-test/absent:v1", free_port());
        let e = engine
            .ensure_image(&unpullable, Pull::Missing, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(e, EngineError::Pull { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("cannot pull image {unpullable}")),
            "{text}"
        );
        assert!(text.contains("docker build -t"), "{text}");

        // Running an absent image is the same clear error.
        let mut spec = sh("absent", "run", "true");
        spec.image = absent.to_owned();
        let e = engine.run(&spec).await.unwrap_err();
        assert!(matches!(e, EngineError::ImageMissing { .. }), "{e:?}");
    })
}

fn pull_reports_progress_and_the_image_runs() {
    block_on(async {
        let engine = engine().await;
        let busybox = support::busybox();
        let layers = vec![
            tar_of(&[("bin/busybox", 0o755, &busybox)]),
            tar_of(&[("etc/greeting", 0o644, b"pulled\n")]),
        ];
        let cmd = ["/bin/busybox", "cat", "/etc/greeting"];
        let registry = Registry::serve("shoal-test/pulled", "v1", layers, &cmd).await;
        let image = format!("{}/shoal-test/pulled:v1", registry.host());
        assert!(!engine.image_present(&image).await.unwrap());

        let mut seen: Vec<PullProgress> = Vec::new();
        timeout(
            LIMIT,
            engine.ensure_image(&image, Pull::Missing, |p| seen.push(p.clone())),
        )
        .await
        .unwrap()
        .unwrap();
        // Layers counted from the engine's lines, bytes from its download progress (the big
        // layer's at least: a small one may finish before the engine reports its size).
        let last = seen.last().unwrap();
        assert_eq!((last.layers, last.layers_done), (2, 2), "{seen:#?}");
        let big = registry.layer_sizes[0];
        let all: u64 = registry.layer_sizes.iter().sum();
        assert!((big..=all).contains(&last.bytes_total), "{seen:#?}");
        assert_eq!(last.bytes_done, last.bytes_total, "{seen:#?}");
        assert!(
            seen.iter()
                .any(|p| p.status == "Downloading" && p.bytes_total >= big),
            "{seen:#?}"
        );
        assert!(engine.image_present(&image).await.unwrap());

        let mut spec = sh("pull", "pulled", "");
        spec.image = image.clone();
        spec.cmd = None;
        let (status, out, err) = output_of(&engine, &spec).await;
        assert!(status.success(), "{status}: {err}");
        assert_eq!(out, "pulled\n");

        // Always asks the registry again; the image is up to date.
        let mut again: Vec<PullProgress> = Vec::new();
        engine
            .ensure_image(&image, Pull::Always, |p| again.push(p.clone()))
            .await
            .unwrap();
        let last = again.last().expect("progress of the second pull");
        assert!(last.status.contains("up to date"), "{again:#?}");
    })
}

fn published_port_serves_http() {
    block_on(async {
        let engine = engine().await;
        let port = free_port();
        let mut spec = sh("publish", "web", "exec httpd -f -p 8000 -h /www");
        spec.network = Network::Publish {
            container_port: 8000,
            host_port: port,
        };
        spec.labels.insert("shoal.service".into(), "web".into());
        spec.labels.insert("shoal.instance".into(), "web-1".into());
        let id = engine.run(&spec).await.unwrap();
        assert_eq!(id.as_str().len(), 64, "{id}");

        let answer = http_get(port, "/", Duration::from_secs(20)).await;
        assert!(
            answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
            "{answer}"
        );
        assert!(answer.ends_with(INDEX), "{answer}");

        let info = engine.inspect(&id).await.unwrap();
        assert!(info.running);
        assert_eq!(info.name, spec.name.clone().unwrap());
        assert_eq!(info.image, IMAGE);
        assert_eq!(
            info.labels.get("shoal.service").map(String::as_str),
            Some("web")
        );
        assert_eq!(
            info.labels.get("shoal.instance").map(String::as_str),
            Some("web-1")
        );
        assert_eq!(
            info.labels.get(TEST_LABEL).map(String::as_str),
            Some("publish")
        );
        cleanup(&engine, &id).await;
    })
}

fn host_network_serves_http() {
    block_on(async {
        let engine = engine().await;
        let port = free_port();
        let mut spec = sh(
            "host",
            "web",
            &format!("exec httpd -f -p 127.0.0.1:{port} -h /www"),
        );
        spec.network = Network::Host;
        let id = engine.run(&spec).await.unwrap();
        let answer = http_get(port, "/", Duration::from_secs(20)).await;
        assert!(
            answer.contains(" 200 ") && answer.ends_with(INDEX),
            "{answer}"
        );
        cleanup(&engine, &id).await;
    })
}

/// Runs `spec` to its end and returns its exit status and output, stream by stream.
async fn output_of(
    engine: &Engine,
    spec: &shoal_container::ContainerSpec,
) -> (shoal_container::ExitStatus, String, String) {
    let id = engine.run(spec).await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    timeout(
        LIMIT,
        engine.logs(&id, |stream, bytes| match stream {
            LogStream::Stdout => out.extend_from_slice(bytes),
            LogStream::Stderr => err.extend_from_slice(bytes),
        }),
    )
    .await
    .expect("logs end when the container does")
    .unwrap();
    let status = timeout(LIMIT, engine.wait(&id)).await.unwrap().unwrap();
    cleanup(engine, &id).await;
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (status, text(out), text(err))
}

fn logs_keep_stdout_and_stderr_apart() {
    block_on(async {
        let engine = engine().await;
        let spec = sh("logs", "both", "echo out; echo err >&2; sleep 1; echo late");
        let started = Instant::now();
        let (status, out, err) = output_of(&engine, &spec).await;
        assert!(status.success(), "{status}");
        assert_eq!(out, "out\nlate\n");
        assert_eq!(err, "err\n");
        // Following: the reading ended with the container, not before its last line.
        assert!(started.elapsed() >= Duration::from_secs(1));
    })
}

fn env_workdir_entrypoint_and_ulimits_apply() {
    block_on(async {
        let engine = engine().await;
        let mut spec = sh("env", "all", "");
        spec.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
        spec.cmd = Some(vec![
            "echo $GREETING; pwd; ulimit -n; ulimit -Hn; ulimit -u".into(),
        ]);
        spec.env = vec![("GREETING".into(), "hello there".into())];
        spec.workdir = Some("/srv".into());
        spec.ulimits = vec![
            shoal_container::Ulimit::nofile(1000, 2000),
            shoal_container::Ulimit::nproc(300, 400),
        ];
        let (status, out, err) = output_of(&engine, &spec).await;
        assert!(status.success(), "{status}: {err}");
        assert_eq!(out, "hello there\n/srv\n1000\n2000\n300\n", "{err}");
    })
}

fn usage_reads_a_half_core_limit() {
    block_on(async {
        let engine = engine().await;
        let mut spec = sh("usage", "busy", "while :; do :; done");
        spec.cpu = Some(0.5);
        spec.memory = Some(64 << 20);
        let id = engine.run(&spec).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start = Instant::now();
        let first = engine.usage(&id).await.unwrap();
        let first_at = start.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let second = engine.usage(&id).await.unwrap();
        let second_at = start.elapsed();
        let percent = cpu_percent(
            (first.cpu_seconds, first_at),
            (second.cpu_seconds, second_at),
            1.0,
        );
        eprintln!("busy container at 0.5 cores: {percent:.1} % of a core, {first:?} → {second:?}");
        assert!((25.0..=75.0).contains(&percent), "{percent} % of a core");
        assert!(
            second.memory_bytes > 0 && second.memory_bytes < 64 << 20,
            "{second:?}"
        );
        cleanup(&engine, &id).await;
    })
}

fn exit_codes_are_reported() {
    block_on(async {
        let engine = engine().await;
        let id = engine.run(&sh("exit", "three", "exit 3")).await.unwrap();
        let status = timeout(LIMIT, engine.wait(&id)).await.unwrap().unwrap();
        assert_eq!(status.code, 3, "{status}");
        assert_eq!(status.signal(), None);
        // Asking again after the end answers the same at once.
        let again = timeout(Duration::from_secs(10), engine.wait(&id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, status);
        let info = engine.inspect(&id).await.unwrap();
        assert_eq!((info.running, info.exit_code), (false, Some(3)));
        // Stopping or killing an ended container is no error.
        engine.stop(&id, Duration::from_secs(1)).await.unwrap();
        engine.kill(&id).await.unwrap();
        cleanup(&engine, &id).await;
        // Nor is removing it twice; other calls on a removed container say it is gone.
        engine.remove(&id).await.unwrap();
        let e = engine.wait(&id).await.unwrap_err();
        assert!(matches!(e, EngineError::NoSuchContainer { .. }), "{e:?}");
        let e = engine.usage(&id).await.unwrap_err();
        assert!(matches!(e, EngineError::NoSuchContainer { .. }), "{e:?}");
    })
}

fn kill_is_reported_and_wait_is_cancel_safe() {
    block_on(async {
        let engine = engine().await;
        let id = engine
            .run(&sh("kill", "sleeper", "sleep 60"))
            .await
            .unwrap();
        // A wait given up on (as a select! branch that lost) costs nothing.
        tokio::select! {
            status = engine.wait(&id) => panic!("ended early: {status:?}"),
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        // A wait in progress sees the kill.
        let killer = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            engine.kill(&id).await.unwrap();
        };
        let (status, ()) = tokio::join!(timeout(LIMIT, engine.wait(&id)), killer);
        let status = status.unwrap().unwrap();
        assert_eq!(status.code, 137, "{status}");
        assert_eq!(status.signal(), Some(9));
        cleanup(&engine, &id).await;
    })
}

fn stop_kills_after_the_grace() {
    block_on(async {
        let engine = engine().await;
        let spec = sh(
            "stop",
            "stubborn",
            "trap '' TERM; echo ready; sleep 60 & wait",
        );
        let id = engine.run(&spec).await.unwrap();
        // Stop only once the trap is set, or SIGTERM would end the shell before it.
        let mut ready = false;
        let deadline = Instant::now() + LIMIT;
        while !ready && Instant::now() < deadline {
            let logs = engine.logs(&id, |_, bytes| ready |= bytes.starts_with(b"ready"));
            let _ = timeout(Duration::from_millis(300), logs).await;
        }
        assert!(ready, "the container never said ready");
        let started = Instant::now();
        engine.stop(&id, Duration::from_secs(1)).await.unwrap();
        let took = started.elapsed();
        let status = timeout(Duration::from_secs(10), engine.wait(&id))
            .await
            .unwrap()
            .unwrap();
        eprintln!("stop with a 1 s grace took {took:?}: {status}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert_eq!(status.code, 137, "{status}");
        cleanup(&engine, &id).await;
    })
}

fn port_in_use_is_a_clear_error() {
    block_on(async {
        let engine = engine().await;
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut spec = sh("port", "taken", "exec httpd -f -p 8000 -h /www");
        spec.network = Network::Publish {
            container_port: 8000,
            host_port: port,
        };
        let e = engine.run(&spec).await.unwrap_err();
        assert!(
            matches!(e, EngineError::PortInUse { port: p, .. } if p == port),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains(&format!("port 127.0.0.1:{port} is already in use")),
            "{text}"
        );
        // The container that could not start was removed.
        assert_eq!(
            engine.list_labelled(TEST_LABEL, "port").await.unwrap(),
            vec![]
        );
        drop(held);
    })
}

fn bind_mount_writes_reach_the_host() {
    block_on(async {
        let engine = engine().await;
        let dir = test_dir("mount");
        std::fs::write(dir.path().join("seed"), "from the host\n").unwrap();
        let mut spec = sh(
            "mount",
            "writer",
            "cat /data/seed; echo from the container > /data/out",
        );
        spec.mounts = vec![BindMount {
            host: dir.path().to_path_buf(),
            container: "/data".into(),
            read_only: false,
        }];
        let (status, out, err) = output_of(&engine, &spec).await;
        assert!(status.success(), "{status}: {err}");
        assert_eq!(out, "from the host\n");
        let written = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert_eq!(written, "from the container\n");
    })
}

fn remove_labelled_removes_only_those() {
    block_on(async {
        let engine = engine().await;
        let group = |spec: &mut shoal_container::ContainerSpec, value: &str| {
            spec.labels = BTreeMap::from([
                (TEST_LABEL.to_owned(), "labelled".to_owned()),
                ("shoal-test.group".to_owned(), value.to_owned()),
            ]);
        };
        let mut running = sh("labelled", "running", "sleep 60");
        group(&mut running, "old-run");
        let mut ended = sh("labelled", "ended", "true");
        group(&mut ended, "old-run");
        let mut other = sh("labelled", "other", "sleep 60");
        group(&mut other, "this-run");
        let running = engine.run(&running).await.unwrap();
        let ended = engine.run(&ended).await.unwrap();
        let other = engine.run(&other).await.unwrap();
        timeout(LIMIT, engine.wait(&ended)).await.unwrap().unwrap();

        let removed = engine
            .remove_labelled("shoal-test.group", "old-run")
            .await
            .unwrap();
        assert_eq!(removed, 2);
        for gone in [&running, &ended] {
            let e = engine.inspect(gone).await.unwrap_err();
            assert!(matches!(e, EngineError::NoSuchContainer { .. }), "{e:?}");
        }
        assert!(engine.inspect(&other).await.unwrap().running);
        assert_eq!(
            engine
                .remove_labelled("shoal-test.group", "old-run")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            engine
                .remove_labelled("shoal-test.group", "this-run")
                .await
                .unwrap(),
            1
        );
    })
}
