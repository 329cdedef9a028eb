//! `shoal top` in a real terminal: tmux runs it at a fixed size on a private server, `send-keys`
//! types and `capture-pane` reads the screen, as a person at a terminal would.

use std::process::{Command, Output};
use std::time::Duration;

use tokio::time::Instant;

use super::dashboard::{listen_addr, redis_tiers, HeldConnections};
use super::resp::require_redis;
use super::support::{shoal_bin, taskboard_service, text, Shoal};

/// A tmux server of its own (`-L`), so tests never see each other's or the user's sessions;
/// killed on drop, also when the test panics.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Runs `argv` (no shell: tmux executes a command given as several arguments directly) in a
    /// detached `width`×`height` session. The pane stays after the program exits so its exit
    /// status can be read.
    fn start(name: &str, width: u16, height: u16, argv: &[&str]) -> Tmux {
        let tmux = Tmux {
            socket: format!("shoal-e2e-{}-{name}", std::process::id()),
            session: name.to_string(),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let mut args = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &w,
            "-y",
            &h,
        ];
        args.extend_from_slice(argv);
        let out = tmux.run(&args);
        assert!(out.status.success(), "tmux new-session: {}", text(&out));
        let out = tmux.run(&["set-window-option", "-t", name, "remain-on-exit", "on"]);
        assert!(
            out.status.success(),
            "tmux set-window-option: {}",
            text(&out)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("SHOAL_ADDR")
            .env_remove("SHOAL_TOKEN")
            .env_remove("TMUX")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run tmux ({e}); scripts/install-deps.sh installs it")
            })
    }

    /// The screen as text.
    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Makes the window `width`×`height`, as a user resizing their terminal.
    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        let out = self.run(&["resize-window", "-t", &self.session, "-x", &w, "-y", &h]);
        assert!(out.status.success(), "tmux resize-window: {}", text(&out));
    }

    /// Types one key (tmux key names: `q`, `+`, `Tab`, `Escape`).
    fn key(&self, key: &str) {
        let out = self.run(&["send-keys", "-t", &self.session, key]);
        assert!(out.status.success(), "tmux send-keys: {}", text(&out));
    }

    /// `Some(exit status)` once the program in the pane has ended.
    /// `None` while the program runs; once it has ended, `Some(its exit status)` — `Some(None)`
    /// when tmux marked the pane dead without recording a status (tmux 3.3 sometimes does when
    /// the terminal closes before the exit is reaped).
    fn exit_status(&self) -> Option<Option<i32>> {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{pane_dead} #{pane_dead_status}",
        ]);
        let shown = String::from_utf8_lossy(&out.stdout);
        let mut parts = shown.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("1"), code) => Some(code.and_then(|c| c.parse().ok())),
            _ => None,
        }
    }

    /// Waits until the screen satisfies `check`; returns it.
    async fn wait_screen(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let socket = self.run(&["display-message", "-p", "#{socket_path}"]);
        let _ = self.run(&["kill-server"]);
        // tmux may leave its socket file behind in /tmp/tmux-UID.
        let path = String::from_utf8_lossy(&socket.stdout).trim().to_string();
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_instances_scales_follows_logs_and_survives_shoal_going_away() {
    let mut shoal = Shoal::start("top", &taskboard_service("web", 2, 4, "")).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;

    // Not a terminal: a clear refusal, exit 2, pointing at `shoal status`.
    let out = shoal.cli(&["top"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shoal status"),
        "{}",
        text(&out)
    );

    let bin = shoal_bin();
    let spec = shoal.spec.clone();
    let tmux = Tmux::start(
        "top",
        160,
        45,
        &[bin.to_str().unwrap(), "top", "-f", spec.to_str().unwrap()],
    );
    let screen = tmux
        .wait_screen("both instances, healthy", Duration::from_secs(20), |s| {
            s.contains("web-1") && s.contains("web-2") && s.contains("2/2 healthy")
        })
        .await;
    println!("--- shoal top, 160x45 ---\n{screen}");
    assert!(screen.contains("web instances (2)"), "{screen}");
    assert!(screen.matches("healthy").count() >= 3, "{screen}");
    assert!(screen.contains("started"), "events are shown:\n{screen}");

    // `+` scales the selected (first) service through the API; the screen follows.
    tmux.key("+");
    shoal
        .wait_for("web", "desired 3 after +", Duration::from_secs(10), |s| {
            s["desired"] == 3
        })
        .await;
    let screen = tmux
        .wait_screen("the third instance", Duration::from_secs(30), |s| {
            s.contains("web-3") && s.contains("3/3 healthy") && s.contains("web: 2 → 3 instances")
        })
        .await;
    println!("--- after + ---\n{screen}");

    // `-` scales back in.
    tmux.key("-");
    shoal
        .wait_for("web", "desired 2 after -", Duration::from_secs(10), |s| {
            s["desired"] == 2
        })
        .await;
    tmux.wait_screen("desired back to 2", Duration::from_secs(20), |s| {
        s.contains("web: 3 → 2 instances")
    })
    .await;

    // `l` follows the selected instance's log in a pane; Esc closes it.
    tmux.key("Tab");
    tmux.key("l");
    let screen = tmux
        .wait_screen("the log pane", Duration::from_secs(10), |s| {
            s.contains("log web-1") && s.contains("listening on")
        })
        .await;
    println!("--- log pane ---\n{screen}");
    tmux.key("Escape");
    tmux.wait_screen("events again", Duration::from_secs(5), |s| {
        s.contains("events") && !s.contains("log web-1")
    })
    .await;

    // `?` shows the keys.
    tmux.key("?");
    tmux.wait_screen("the help", Duration::from_secs(5), |s| {
        s.contains("follow the selected instance's log")
    })
    .await;
    tmux.key("Escape");

    // Shoal goes away: top says so and keeps polling instead of crashing.
    assert_eq!(shoal.terminate(Duration::from_secs(60)), Some(0));
    let screen = tmux
        .wait_screen("the outage", Duration::from_secs(10), |s| {
            s.contains("UNREACHABLE") && s.contains("cannot reach shoal") && s.contains("retrying")
        })
        .await;
    println!("--- shoal down ---\n{screen}");
    assert_eq!(tmux.exit_status(), None, "top must keep running:\n{screen}");

    // `q` quits with status 0 and gives the terminal back (the alternate screen is gone).
    tmux.key("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = tmux.exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "top did not quit:\n{}",
            tmux.screen()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // tmux may mark the pane dead a moment before it has reaped the exit: give it that moment.
    let mut status = status;
    for _ in 0..20 {
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = tmux.exit_status().flatten();
    }
    let screen = tmux.screen();
    match status {
        Some(code) => assert_eq!(code, 0, "{screen}"),
        None => println!("top ended; tmux recorded no exit status this time"),
    }
    assert!(
        !screen.contains("web instances"),
        "terminal not restored:\n{screen}"
    );
}

/// The text under `heading` in the first line that contains `row` (a column read as a person
/// reads it: by where its heading is), trimmed.
fn cell(screen: &str, heading: &str, row: &str) -> Option<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let text = |l: &Vec<char>| l.iter().collect::<String>();
    let at = lines
        .iter()
        .position(|l| text(l).contains(&format!(" {heading} ")))?;
    let head = text(&lines[at]);
    let col = head[..head.find(&format!(" {heading} "))?].chars().count() + 1;
    let line = lines[at..].iter().find(|l| text(l).contains(row))?;
    let rest: String = line.get(col..)?.iter().collect();
    rest.split_whitespace().next().map(str::to_string)
}

/// cache is selected (the first service): its instances' connections add up to the
/// listener's, and its details name the listener, its tags and the selected instance's volume.
fn assert_cache_shown(screen: &str, cache: std::net::SocketAddr) {
    let conns: u32 = ["cache-1", "cache-2"]
        .iter()
        .map(|id| {
            let n = cell(screen, "CONNS", &format!(" {id} ")).unwrap_or_default();
            n.parse::<u32>()
                .unwrap_or_else(|_| panic!("CONNS of {id}: {n:?}\n{screen}"))
        })
        .sum();
    assert_eq!(conns, 3, "{screen}");
    for want in [
        format!("tcp {cache} · 3/1024 open"),
        "tags primary, cache".to_string(),
        "volume cache-1 ".to_string(),
        "connections cache-1".to_string(),
    ] {
        assert!(screen.contains(&want), "missing {want:?}:\n{screen}");
    }
    assert!(
        screen
            .lines()
            .any(|l| l.contains("volume cache-1") && l.contains("volumes/cache/cache-1")),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_tcp_listeners_connections_volumes_and_start_order() {
    require_redis();
    let (cache, queue) = (listen_addr(), listen_addr());
    let shoal = Shoal::start("top-tcp", &redis_tiers(cache, queue)).await;
    shoal
        .wait_healthy("cache", 2, Duration::from_secs(30))
        .await;
    let held = HeldConnections::open(cache, 3).await;

    let bin = shoal_bin();
    let spec = shoal.spec.clone();
    let tmux = Tmux::start(
        "top-tcp",
        160,
        45,
        &[bin.to_str().unwrap(), "top", "-f", spec.to_str().unwrap()],
    );
    let listener = format!(":{} 3 conns", cache.port());
    let screen = tmux
        .wait_screen(
            "the listener with 3 connections",
            Duration::from_secs(20),
            |s| {
                s.contains(&listener)
                    && s.contains("waiting for migrate")
                    && s.contains("conn/s")
                    && !s.contains("- conn/s")
            },
        )
        .await;
    println!("--- shoal top with TCP tiers, 160x45 ---\n{screen}");
    assert_cache_shown(&screen, cache);

    // queue (two rows down) waits for migrate, and says so where its details are.
    tmux.key("Down");
    tmux.key("Down");
    let screen = tmux
        .wait_screen("queue's start order", Duration::from_secs(10), |s| {
            s.contains("queue instances (0)")
                && s.contains("WAITING FOR migrate · starts after cache, migrate")
        })
        .await;
    println!("--- queue selected ---\n{screen}");

    // migrate turns healthy: queue starts and stops waiting.
    std::fs::write(shoal.dir.join("migrated"), "").unwrap();
    let screen = tmux
        .wait_screen("queue started", Duration::from_secs(30), |s| {
            s.contains("queue instances (1)")
                && !s.contains("WAITING FOR")
                && !s.contains("waiting for migrate")
                && s.contains(" starts after cache, migrate")
        })
        .await;
    println!("--- queue started ---\n{screen}");

    // A narrower terminal: the least needed columns go, the listener and connections stay.
    tmux.key("Up");
    tmux.key("Up");
    tmux.resize(90, 40);
    let screen = tmux
        .wait_screen("the narrow layout", Duration::from_secs(10), |s| {
            s.contains(&listener) && s.contains("CONNS") && !s.contains("MIN..MAX")
        })
        .await;
    println!("--- 90x40 ---\n{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 90), "{screen}");
    assert!(
        screen.contains("NOTE") && screen.contains("cache-2"),
        "{screen}"
    );

    // Closing the connections: the count follows.
    drop(held);
    tmux.wait_screen("no connections", Duration::from_secs(10), |s| {
        s.contains(&format!(":{} 0 conns", cache.port()))
    })
    .await;
    tmux.key("q");
}
