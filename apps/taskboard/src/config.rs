//! Startup configuration gathered from the command line and the environment.
//!
//! Shoal launches every instance as `taskboard --port {port}` and describes the
//! instance through `SHOAL_*` variables, so flags take precedence over the
//! environment, which takes precedence over built-in defaults.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Port used when neither `--port` nor `PORT` is given.
const DEFAULT_PORT: u16 = 8000;

/// Everything an instance needs to know before it starts serving.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// TCP port to listen on (0 lets the OS pick one).
    pub port: u16,
    /// Address to bind; loopback by default so only the gateway can reach it.
    pub bind: IpAddr,
    /// SQLite file shared by every instance of the app.
    pub db_path: PathBuf,
    /// Application version shown on the page and in `/instance`.
    pub version: String,
    /// Share of requests (0..=1) answered with an injected 500.
    pub fail_rate: f64,
    /// Name of this instance, e.g. `web-2`.
    pub instance_id: String,
    /// Revision of the deployment that started this instance, if any.
    pub revision: Option<String>,
    /// Service name this instance belongs to, if any.
    pub service: Option<String>,
    /// Live-instance count provided by the orchestrator, if any.
    pub live_instances: Option<String>,
    /// Bytes per second of filler lines written to stdout (`LOG_SPAM_BPS`); 0 = none. For
    /// testing log rotation under a program that logs fast.
    pub log_spam_bps: u64,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Serve with the given configuration.
    Run(Config),
    /// Print the usage text and exit successfully.
    Help,
}

/// Usage text for `--help` and argument errors.
pub const USAGE: &str = "\
taskboard - a small task manager meant to run as several instances behind a gateway

USAGE:
    taskboard [--port N] [--bind ADDR] [--db PATH]

OPTIONS:
    --port N       port to listen on (default: $PORT, else 8000)
    --bind ADDR    address to bind (default: 127.0.0.1)
    --db PATH      SQLite database shared by all instances
                   (default: $TASKBOARD_DB, else ./taskboard.db)
    -h, --help     print this help

ENVIRONMENT:
    PORT                  port when --port is not given
    TASKBOARD_DB          database path when --db is not given
    APP_VERSION           version label (default: v1)
    FAIL_RATE             share of requests answered 500, 0..1 (default: 0)
    SHOAL_INSTANCE_ID     instance name (default: taskboard-<pid>)
    SHOAL_SERVICE         service name reported by /instance
    SHOAL_REVISION        revision reported by /instance
    SHOAL_LIVE_INSTANCES  live-instance count shown on the page
    LOG_SPAM_BPS          write this many bytes/s of filler lines to stdout (default: 0)
    RUST_LOG              log filter (default: info)
";

/// Parses the arguments (without the program name) and reads the environment
/// through `env`, so tests can supply both without touching the process.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let env = |key: &str| env(key).filter(|value| !value.trim().is_empty());
    let mut port = None;
    let mut bind = None;
    let mut db_path = None;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline {
                Some(value) => Ok(value.to_string()),
                None => args.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--port" => port = Some(parse_port(&value("--port")?, "--port")?),
            "--bind" => {
                let raw = value("--bind")?;
                let addr = raw
                    .parse::<IpAddr>()
                    .map_err(|_| format!("--bind: '{raw}' is not an IP address"))?;
                bind = Some(addr);
            }
            "--db" => db_path = Some(PathBuf::from(value("--db")?)),
            _ => return Err(format!("unknown argument '{arg}'")),
        }
    }

    let port = match port {
        Some(port) => port,
        None => match env("PORT") {
            Some(raw) => parse_port(&raw, "PORT")?,
            None => DEFAULT_PORT,
        },
    };
    let fail_rate = match env("FAIL_RATE") {
        Some(raw) => parse_rate(&raw)?,
        None => 0.0,
    };
    let log_spam_bps = match env("LOG_SPAM_BPS") {
        Some(raw) => crate::spam::parse_bps(&raw)?,
        None => 0,
    };

    Ok(Command::Run(Config {
        port,
        bind: bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        db_path: db_path
            .or_else(|| env("TASKBOARD_DB").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("taskboard.db")),
        version: env("APP_VERSION").unwrap_or_else(|| "v1".to_string()),
        fail_rate,
        instance_id: env("SHOAL_INSTANCE_ID")
            .unwrap_or_else(|| format!("taskboard-{}", std::process::id())),
        revision: env("SHOAL_REVISION"),
        service: env("SHOAL_SERVICE"),
        live_instances: env("SHOAL_LIVE_INSTANCES").map(|raw| raw.trim().to_string()),
        log_spam_bps,
    }))
}

fn parse_port(raw: &str, source: &str) -> Result<u16, String> {
    raw.trim()
        .parse::<u16>()
        .map_err(|_| format!("{source}: '{raw}' is not a port number (0-65535)"))
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "FAIL_RATE: '{raw}' is not a number between 0 and 1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match parse(args.iter().map(|a| a.to_string()), |k| env.get(k).cloned())? {
            Command::Run(config) => Ok(config),
            Command::Help => Err("help".to_string()),
        }
    }

    #[test]
    fn defaults() {
        let config = run(&[], &[]).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(config.db_path, PathBuf::from("taskboard.db"));
        assert_eq!(config.version, "v1");
        assert_eq!(config.fail_rate, 0.0);
        assert!(config.instance_id.starts_with("taskboard-"));
        assert_eq!(config.revision, None);
        assert_eq!(config.log_spam_bps, 0);
    }

    #[test]
    fn flags_beat_environment() {
        let config = run(
            &["--port", "4100", "--db=/tmp/x.db"],
            &[("PORT", "9000"), ("TASKBOARD_DB", "/tmp/y.db")],
        )
        .unwrap();
        assert_eq!(config.port, 4100);
        assert_eq!(config.db_path, PathBuf::from("/tmp/x.db"));
    }

    #[test]
    fn environment_fills_in() {
        let config = run(
            &[],
            &[
                ("PORT", "9000"),
                ("SHOAL_INSTANCE_ID", "web-2"),
                ("SHOAL_REVISION", "r7"),
                ("APP_VERSION", "v2"),
                ("FAIL_RATE", "0.25"),
                ("LOG_SPAM_BPS", "65536"),
            ],
        )
        .unwrap();
        assert_eq!(config.log_spam_bps, 65536);
        assert_eq!(config.port, 9000);
        assert_eq!(config.instance_id, "web-2");
        assert_eq!(config.revision.as_deref(), Some("r7"));
        assert_eq!(config.version, "v2");
        assert_eq!(config.fail_rate, 0.25);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(run(&["--nope"], &[]).is_err());
        assert!(run(&["--port"], &[]).is_err());
        assert!(run(&["--port", "70000"], &[]).is_err());
        assert!(run(&["--bind", "localhost"], &[]).is_err());
        assert!(run(&[], &[("FAIL_RATE", "2")]).is_err());
        assert!(run(&[], &[("PORT", "x")]).is_err());
        assert!(run(&[], &[("LOG_SPAM_BPS", "fast")]).is_err());
    }

    #[test]
    fn help() {
        assert_eq!(run(&["--help"], &[]), Err("help".to_string()));
    }
}
