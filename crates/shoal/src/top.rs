//! `shoal top`: a live terminal dashboard in the spirit of `pm2 monit` and k9s. Services and the
//! selected service's instances, CPU and request-rate sparklines kept on this side from polling
//! `GET /v1/status`, recent events, scaling with `+`/`-`, and the selected instance's log.
//!
//! Three parts run at once so none can freeze the others: the [`feed`] task talks to the admin
//! API, an input thread reads keys, and this loop owns the [`app::App`] state and draws. If shoal
//! is unreachable the last screen stays, the status line says so and the feed keeps polling.

mod app;
mod columns;
mod detail;
mod feed;
mod input;
mod render;
mod term;
mod tier;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyEvent};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::Target;
use crate::client::Admin;
use crate::exit::Failure;
use app::{App, Focus};
use feed::{Cmd, Msg};
use input::Action;

/// How often the log pane looks for new lines.
const LOG_POLL: Duration = Duration::from_millis(250);
/// How long the input thread waits for a key before checking whether it should stop.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// Runs the dashboard until the user quits. Refuses (exit 2) when stdout is not a terminal.
pub async fn run(target: &Target, interval: Duration) -> Result<(), Failure> {
    if !std::io::stdout().is_terminal() {
        return Err(Failure::input(
            "shoal top needs a terminal, and stdout is not one\nhint: use `shoal status` for a table, or `shoal status -o json` in scripts",
        ));
    }
    // Before the screen is taken over, so a bad spec or address reads like any other verb's.
    let admin = Admin::connect(target)?;
    let (terminal, guard) =
        term::enter().map_err(|e| Failure::op(format!("cannot set up the terminal: {e}")))?;
    let result = ui(terminal, admin, interval).await;
    drop(guard);
    result
}

async fn ui(mut terminal: term::Tui, admin: Admin, interval: Duration) -> Result<(), Failure> {
    let (cmds, mut msgs) = feed::spawn(admin, interval);
    let (keys, stop_keys) = spawn_input();
    let mut keys = keys;
    let mut app = App::new(interval);
    let mut log_tick = tokio::time::interval(LOG_POLL);
    // Redraw every second even when nothing arrives: the "updated Ns ago" clock moves.
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let mut term_signal = unix_signal(SignalKind::terminate())?;
    let mut hup_signal = unix_signal(SignalKind::hangup())?;
    let mut int_signal = unix_signal(SignalKind::interrupt())?;
    let outcome = loop {
        if let Err(e) = terminal.draw(|f| render::draw(f, &app, Instant::now())) {
            break Err(Failure::op(format!("cannot draw: {e}")));
        }
        tokio::select! {
            key = keys.recv() => match key {
                Some(Event::Key(key)) => {
                    if handle_key(&mut app, key, &cmds) {
                        break Ok(());
                    }
                }
                Some(_) => {} // resize and the like: the next draw adapts
                None => break Err(Failure::op("the terminal's input ended")),
            },
            msg = msgs.recv() => match msg {
                Some(msg) => on_msg(&mut app, msg),
                None => break Err(Failure::op("internal error: the admin API poller stopped")),
            },
            _ = log_tick.tick(), if app.logs.is_some() => app.poll_logs(),
            _ = clock.tick() => {}
            _ = term_signal.recv() => break Ok(()),
            _ = hup_signal.recv() => break Ok(()),
            _ = int_signal.recv() => break Ok(()),
        }
    };
    stop_keys.store(true, Ordering::SeqCst);
    outcome
}

fn unix_signal(kind: SignalKind) -> Result<tokio::signal::unix::Signal, Failure> {
    signal(kind).map_err(|e| Failure::op(format!("cannot watch signals: {e}")))
}

fn on_msg(app: &mut App, msg: Msg) {
    let now = Instant::now();
    match msg {
        Msg::Status(Ok(status)) => app.on_status(&status, now),
        Msg::Status(Err(why)) => app.on_unreachable(why, now),
        Msg::Events { events, reset } => app.on_events(&events, reset),
        Msg::DataDir(dir) => app.data_dir = Some(dir),
        Msg::Scaled(Ok(text)) => app.notify(text, false),
        Msg::Scaled(Err(text)) => app.notify(text, true),
    }
}

/// Carries out one key; `true` when it asks to quit.
fn handle_key(app: &mut App, key: KeyEvent, cmds: &mpsc::UnboundedSender<Cmd>) -> bool {
    let Some(action) = input::action(key) else {
        return false;
    };
    if app.help && !matches!(action, Action::Quit) {
        // Any key closes the help, as in less and k9s.
        app.help = false;
        return false;
    }
    match action {
        Action::Quit => return true,
        Action::Back => {
            if app.logs.is_some() {
                app.logs = None;
            } else {
                return true;
            }
        }
        Action::Move(by) => app.move_selection(by),
        Action::First => app.move_selection(isize::MIN / 2),
        Action::Last => app.move_selection(isize::MAX / 2),
        Action::SwitchFocus => app.toggle_focus(),
        Action::FocusServices => app.focus = Focus::Services,
        Action::FocusInstances => app.focus = Focus::Instances,
        Action::Scale(delta) => match app.service().map(|s| s.name.clone()) {
            Some(service) => {
                let sign = if delta > 0 { "+" } else { "" };
                app.notify(format!("scaling {service} {sign}{delta}…"), false);
                let _ = cmds.send(Cmd::Scale { service, delta });
            }
            None => app.notify("no service selected", true),
        },
        Action::Logs => {
            if let Err(why) = app.toggle_logs() {
                app.notify(why, true);
            }
        }
        Action::Help => app.help = true,
    }
    false
}

/// Reads terminal events on a thread of its own (crossterm's reads block) until `stop` is set.
fn spawn_input() -> (mpsc::UnboundedReceiver<Event>, Arc<AtomicBool>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let spawned = std::thread::Builder::new()
        .name("top-input".into())
        .spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match crossterm::event::poll(INPUT_POLL) {
                    Ok(false) => {}
                    Ok(true) => match crossterm::event::read() {
                        Ok(ev) => {
                            if tx.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Err(_) => return,
                }
            }
        });
    // Without the thread the sender is dropped at once and the loop ends with an error.
    drop(spawned);
    (rx, stop)
}
