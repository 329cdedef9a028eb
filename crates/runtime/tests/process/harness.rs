//! A minimal stand-in for libtest: runs the tests in parallel threads and prints libtest's
//! output format, so `cargo test` reads the same as for other test binaries.

use std::io::Write;
use std::thread;

use tokio::time::Instant;

/// A named test; it fails by panicking.
pub type Test = (&'static str, fn());

/// Runs the `tests` selected by the libtest-style command line `args` (filters, `--exact`,
/// `--skip`, `--list`; other options are accepted and ignored). Returns the exit code.
pub fn run(tests: &[Test], args: &[String]) -> i32 {
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
    let (tx, rx) = std::sync::mpsc::channel();
    for &&(name, test) in &selected {
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
    drop(tx);
    let mut failed = Vec::new();
    for (name, ok) in rx {
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        let _ = std::io::stdout().flush();
        if !ok {
            failed.push(name);
        }
    }
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
