//! A minimal stand-in for libtest, for test binaries with `harness = false`: runs the tests in
//! parallel threads and prints libtest's output format, so `cargo test` reads the same as for
//! other test binaries. Unlike libtest it brings up a shared fixture (a test dockerd, say) before
//! the tests and drops it after them, also when a test fails; and the binary keeps its own `main`
//! (the runtime's tests re-execute it as the instance shim).

use std::io::Write;
use std::thread;

use tokio::time::Instant;

/// A named test; it fails by panicking.
pub type Test = (&'static str, fn());

/// Runs the `tests` selected by the libtest-style command line `args` (filters, `--exact`,
/// `--skip`, `--list`; other options are accepted and ignored) with the fixture `setup` makes,
/// which is made only when a test is selected and dropped when they have all ended. Returns the
/// exit code.
pub fn run<F>(tests: &[Test], args: &[String], setup: impl FnOnce() -> F) -> i32 {
    let options = Options::parse(args);
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(name, _)| options.selects(name))
        .collect();
    let filtered_out = tests.len() - selected.len();

    if options.list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        println!("\n{} tests, 0 benchmarks", selected.len());
        return 0;
    }

    println!(
        "\nrunning {} test{}",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" }
    );
    let started = Instant::now();
    let fixture = (!selected.is_empty()).then(setup);
    let outcomes = spawn_all(&selected);
    let mut failed = Vec::new();
    for (name, ok) in outcomes {
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        let _ = std::io::stdout().flush();
        if !ok {
            failed.push(name);
        }
    }
    drop(fixture);
    let passed = selected.len() - failed.len();
    if !failed.is_empty() {
        println!("\nfailures (panic messages above):");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered_out} \
         filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    i32::from(!failed.is_empty())
}

/// Starts each test on a thread of its own; the receiver yields (name, passed) as they end.
fn spawn_all(tests: &[&Test]) -> std::sync::mpsc::Receiver<(&'static str, bool)> {
    let (tx, rx) = std::sync::mpsc::channel();
    for &&(name, test) in tests {
        let tx = tx.clone();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let outcome = thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(test)
                    .expect("spawn test thread")
                    .join();
                let _ = tx.send((name, outcome.is_ok()));
            })
            .expect("spawn test thread");
    }
    rx
}

#[derive(Default)]
struct Options {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
    ignored_only: bool,
}

impl Options {
    fn parse(args: &[String]) -> Self {
        const WITH_VALUE: &[&str] = &[
            "--test-threads",
            "--skip",
            "--format",
            "--color",
            "--logfile",
            "--shuffle-seed",
            "-Z",
        ];
        let mut options = Options::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--exact" => options.exact = true,
                "--list" => options.list = true,
                "--ignored" => options.ignored_only = true,
                flag if WITH_VALUE.contains(&flag) => {
                    let value = iter.next().cloned().unwrap_or_default();
                    if flag == "--skip" {
                        options.skip.push(value);
                    }
                }
                flag if flag.starts_with("--skip=") => {
                    options.skip.push(flag["--skip=".len()..].to_owned())
                }
                flag if flag.starts_with('-') => {}
                filter => options.filters.push(filter.to_owned()),
            }
        }
        options
    }

    fn selects(&self, name: &str) -> bool {
        let matches = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        !self.ignored_only
            && (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skip.iter().any(matches)
    }
}

/// A scratch directory, created fresh and removed on drop, so a test never sees another run's
/// files and leaves none behind.
pub struct TestDir(std::path::PathBuf);

impl TestDir {
    /// `base/<prefix>-<pid>-<name>`; `base` is usually the test's `env!("CARGO_TARGET_TMPDIR")`.
    pub fn new(base: &std::path::Path, prefix: &str, name: &str) -> Self {
        let path = base.join(format!("{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        Self(path)
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a future on a fresh single-threaded runtime: the tests of a `harness = false` binary are
/// plain functions, each with its own runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}
