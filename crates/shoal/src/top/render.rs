//! Drawing one frame from the [`App`] state: title, services, the selected service's instances,
//! sparklines of the selected instance, events or the log pane, and the status line. Only reads
//! the state, so a frame can be checked on ratatui's test backend.

use crate::commands::{human_bytes, human_secs};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Cell, Clear, HighlightSpacing, Paragraph, Row, Sparkline, Table,
    TableState,
};
use ratatui::Frame;
use shoal_runtime::LogStream;
use tokio::time::Instant;

use super::app::{App, Focus, History, InstanceView, ServiceView};
use super::columns::{self, instance_columns, sized, SERVICE_COLUMNS, TABLE_CHROME};
use super::detail;
use super::input::HELP;

/// Bars for the inline sparkline column, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Samples in the inline CPU column.
const INLINE_SAMPLES: usize = 16;

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App, now: Instant) {
    let services_h = (app.services.len() as u16 + 3).clamp(4, 12);
    let details = app.service().map_or_else(Vec::new, |s| {
        detail::lines(
            s,
            app.instance(),
            app.tcp.get(&s.name),
            f.area().width.saturating_sub(2),
        )
    });
    let rows = app.service().map_or(0, |s| s.instances.len()) as u16;
    let instances_h = (rows + 3).clamp(4, 16) + details.len() as u16;
    let [title, services, instances, sparks, bottom, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(services_h),
        Constraint::Length(instances_h),
        Constraint::Length(8),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_title(f, title, app, now);
    draw_services(f, services, app);
    draw_instances(f, instances, app, details);
    draw_sparklines(f, sparks, app);
    if app.logs.is_some() {
        draw_logs(f, bottom, app);
    } else {
        draw_events(f, bottom, app);
    }
    draw_status(f, status, app, now);
    if app.help {
        draw_help(f);
    }
}

fn block(title: impl Into<Line<'static>>, focused: bool) -> Block<'static> {
    let colour = if focused {
        Color::Cyan
    } else {
        Color::DarkGray
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(colour))
        .title(title)
}

fn draw_title(f: &mut Frame, area: Rect, app: &App, now: Instant) {
    let mut spans = vec![
        Span::styled(
            " shoal top ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
    ];
    if let Some(g) = &app.gateway {
        spans.push(Span::raw(format!("gateway {g}  ")));
    }
    let instances: usize = app.services.iter().map(|s| s.instances.len()).sum();
    spans.push(Span::styled(
        format!(
            "{} service(s) · {instances} instance(s)  ",
            app.services.len()
        ),
        Style::default().fg(Color::Gray),
    ));
    match (&app.down, app.updated) {
        (Some((since, _)), _) => spans.push(Span::styled(
            format!(
                "UNREACHABLE for {}",
                human_secs(now.saturating_duration_since(*since).as_secs())
            ),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
        (None, Some(at)) => spans.push(Span::styled(
            format!(
                "updated {}s ago",
                now.saturating_duration_since(at).as_secs()
            ),
            Style::default().fg(Color::DarkGray),
        )),
        (None, None) => spans.push(Span::styled(
            "connecting…",
            Style::default().fg(Color::DarkGray),
        )),
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn header_style() -> Style {
    Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD)
}

fn draw_services(f: &mut Frame, area: Rect, app: &App) {
    let name_w = app.services.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let cols = sized(&SERVICE_COLUMNS, name_w);
    let keep = columns::fit(&cols, area.width.saturating_sub(TABLE_CHROME));
    let rows: Vec<Row> = app
        .services
        .iter()
        .map(|s| Row::new(columns::kept(service_cells(s), &keep)))
        .collect();
    let focused = app.focus == Focus::Services;
    let table = Table::new(rows, columns::widths(&cols, &keep))
        .header(columns::header(&cols, &keep, header_style()))
        .block(block(" services ", focused))
        .row_highlight_style(highlight(focused))
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state =
        TableState::default().with_selected((!app.services.is_empty()).then_some(app.service_sel));
    f.render_stateful_widget(table, area, &mut state);
}

fn highlight(focused: bool) -> Style {
    if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    }
}

/// One cell per [`columns::SERVICE_COLUMNS`] entry.
fn service_cells(s: &ServiceView) -> Vec<Cell<'static>> {
    let healthy = s.healthy();
    let total = s.instances.len();
    let health_colour = if total > 0 && healthy == total {
        Color::Green
    } else if healthy > 0 {
        Color::Yellow
    } else if s.desired == 0 || !s.waiting_for.is_empty() {
        Color::Gray
    } else {
        Color::Red
    };
    let desired = if s.autoscaled {
        format!("{} auto", s.desired)
    } else {
        s.desired.to_string()
    };
    // A service reached only over TCP has no HTTP traffic to speak of.
    let rps = match s.rps {
        Some(r) if !s.tcp_only() => format!("{r:.1}"),
        _ => "-".into(),
    };
    let (note, note_style) = service_note(s);
    vec![
        Cell::from(s.name.clone()).style(Style::default().add_modifier(Modifier::BOLD)),
        Cell::from(format!("{healthy}/{total} healthy")).style(Style::default().fg(health_colour)),
        Cell::from(desired),
        Cell::from(format!("{}..{}", s.min, s.max)),
        Cell::from(rps),
        Cell::from(s.p95_ms.map_or("-".into(), |p| format!("{p:.1}ms"))),
        Cell::from(
            s.error_rate
                .map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
        ),
        tcp_cell(s),
        Cell::from(s.revision.map_or("-".into(), |r| format!("r{r}"))),
        Cell::from(note).style(note_style),
    ]
}

/// `:6380 3 conns`, or `-` without a listener.
fn tcp_cell(s: &ServiceView) -> Cell<'static> {
    match &s.tcp {
        Some(tcp) => {
            let unit = if tcp.open == 1 { "conn" } else { "conns" };
            Cell::from(format!("{} {} {unit}", tcp.short_listen(), tcp.open))
                .style(Style::default().fg(Color::Cyan))
        }
        None => Cell::from("-"),
    }
}

/// What is unusual about a service, most urgent first: failing open, a rollout, waiting for
/// its dependencies.
fn service_note(s: &ServiceView) -> (String, Style) {
    if s.fail_open {
        return (
            "FAILING OPEN: no healthy instance".to_string(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        );
    }
    if let Some(rollout) = &s.rollout {
        return (rollout.clone(), Style::default().fg(Color::Magenta));
    }
    if !s.waiting_for.is_empty() {
        return (
            format!("waiting for {}", s.waiting_for.join(", ")),
            Style::default().fg(Color::Yellow),
        );
    }
    ("-".into(), Style::default().fg(Color::Magenta))
}

fn draw_instances(f: &mut Frame, area: Rect, app: &App, details: Vec<Line<'static>>) {
    let focused = app.focus == Focus::Instances;
    let Some(service) = app.service() else {
        f.render_widget(
            Paragraph::new("no services yet").block(block(" instances ", focused)),
            area,
        );
        return;
    };
    let title = format!(" {} instances ({}) ", service.name, service.instances.len());
    let outer = block(title, focused);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(details.len() as u16)])
            .areas(inner);
    let id_w = service.instances.iter().map(|i| i.id.len()).max();
    let cols = instance_columns(service, id_w.unwrap_or(0));
    // The block's borders are already drawn: only the highlight symbol is left to allow for.
    let keep = columns::fit(&cols, table_area.width.saturating_sub(2));
    let rows: Vec<Row> = service
        .instances
        .iter()
        .map(|i| {
            let cells = instance_cells(i, app.history.get(&i.id), service.tcp.is_some());
            Row::new(columns::kept(cells, &keep))
        })
        .collect();
    let table = Table::new(rows, columns::widths(&cols, &keep))
        .header(columns::header(&cols, &keep, header_style()))
        .row_highlight_style(highlight(focused))
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default()
        .with_selected((!service.instances.is_empty()).then_some(app.instance_sel));
    f.render_stateful_widget(table, table_area, &mut state);
    f.render_widget(Paragraph::new(details), detail_area);
}

fn state_colour(state: &str) -> Color {
    match state {
        "healthy" => Color::Green,
        "starting" => Color::Yellow,
        "unhealthy" => Color::Red,
        "draining" => Color::Magenta,
        _ => Color::DarkGray,
    }
}

/// One cell per [`columns::INSTANCE_COLUMNS`] entry; `tcp` when the service has a listener (else its
/// connection count is always zero and shown as `-`).
fn instance_cells(i: &InstanceView, history: Option<&History>, tcp: bool) -> Vec<Cell<'static>> {
    let mut state = i.state.clone();
    if i.ejected {
        state.push('!');
    }
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let restarts_style = if i.restarts > 0 {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    };
    let conns = match (tcp, i.connections) {
        (false, _) => Cell::from("-"),
        (true, 0) => Cell::from("0").style(Style::default().fg(Color::DarkGray)),
        (true, n) => Cell::from(n.to_string()).style(Style::default().fg(Color::Cyan)),
    };
    vec![
        Cell::from(i.id.clone()),
        Cell::from(state).style(Style::default().fg(state_colour(&i.state))),
        Cell::from(opt(i.revision)),
        Cell::from(opt(i.port)),
        Cell::from(opt(i.pid)),
        Cell::from(i.cpu_percent.map_or("-".into(), |c| format!("{c:.1}%"))),
        Cell::from(i.memory_bytes.map_or("-".into(), human_bytes)),
        Cell::from(i.inflight.to_string()),
        conns,
        Cell::from(i.restarts.to_string()).style(restarts_style),
        Cell::from(i.uptime_secs.map_or("-".into(), human_secs)),
        Cell::from(
            history
                .and_then(History::rps_now)
                .map_or("-".into(), |r| format!("{r:.1}")),
        ),
        Cell::from(inline_sparkline(
            history.map(|h| h.cpu.iter().copied().collect::<Vec<_>>()),
        ))
        .style(Style::default().fg(Color::Cyan)),
    ]
}

/// The last [`INLINE_SAMPLES`] CPU samples as bar characters, scaled to at least 10 %.
pub fn inline_sparkline(samples: Option<Vec<u64>>) -> String {
    let samples = samples.unwrap_or_default();
    let tail = &samples[samples.len().saturating_sub(INLINE_SAMPLES)..];
    let max = tail.iter().copied().max().unwrap_or(0).max(100);
    tail.iter()
        .map(|&v| BARS[((v * (BARS.len() as u64 - 1)) / max) as usize])
        .collect()
}

fn draw_sparklines(f: &mut Frame, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let Some(instance) = app.instance() else {
        f.render_widget(block(" CPU ", false), left);
        f.render_widget(block(" requests/s ", false), right);
        return;
    };
    let empty = History::default();
    let h = app.history.get(&instance.id).unwrap_or(&empty);
    let id = &instance.id;
    let cpu_max = h.cpu.iter().copied().max().unwrap_or(0);
    let cpu_title = format!(
        " CPU {id} · now {} · max {:.1}% ",
        instance
            .cpu_percent
            .map_or("-".into(), |c| format!("{c:.1}%")),
        cpu_max as f64 / 10.0
    );
    spark(f, left, cpu_title, &h.cpu, cpu_max.max(100), Color::Cyan);
    if app.service().is_some_and(ServiceView::tcp_only) {
        // Its requests/s would be a flat zero: its connections tell more.
        let max = h.conns.iter().copied().max().unwrap_or(0);
        let title = format!(
            " connections {id} · now {} · max {max} ",
            instance.connections
        );
        spark(f, right, title, &h.conns, max.max(4), Color::Green);
        return;
    }
    let rps_max = h.rps.iter().copied().max().unwrap_or(0);
    let rps_title = format!(
        " requests/s {id} · now {} · max {:.1} ",
        h.rps_now().map_or("-".into(), |r| format!("{r:.1}")),
        rps_max as f64 / 10.0
    );
    spark(f, right, rps_title, &h.rps, rps_max.max(10), Color::Green);
}

fn spark(
    f: &mut Frame,
    area: Rect,
    title: String,
    data: &std::collections::VecDeque<u64>,
    max: u64,
    colour: Color,
) {
    let block = block(title, false);
    let width = block.inner(area).width as usize;
    // The newest samples, right-aligned so the line grows from the right like `top`.
    let skip = data.len().saturating_sub(width);
    let mut shown: Vec<Option<u64>> = vec![None; width.saturating_sub(data.len())];
    shown.extend(data.iter().skip(skip).map(|v| Some(*v)));
    let spark = Sparkline::default()
        .block(block)
        .data(shown)
        .max(max)
        .style(Style::default().fg(colour));
    f.render_widget(spark, area);
}

fn draw_events(f: &mut Frame, area: Rect, app: &App) {
    let block = block(" events ", false);
    let height = block.inner(area).height as usize;
    let skip = app.events.len().saturating_sub(height);
    // As wide as the longest kind shown (`dependencies_ready`), so messages line up.
    let kind_w = app.events.iter().skip(skip).map(|e| e.kind.len()).max();
    let kind_w = kind_w.unwrap_or(0).clamp(12, 18);
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(skip)
        .map(|e| {
            let kind_style = match e.kind.as_str() {
                "crashed" | "unhealthy" | "start_failed" | "fail_open" => {
                    Style::default().fg(Color::Red)
                }
                "healthy" | "started" | "dependencies_ready" => Style::default().fg(Color::Green),
                "waiting" => Style::default().fg(Color::Yellow),
                "tcp" => Style::default().fg(Color::Cyan),
                "scaled" | "autoscaled" => Style::default().fg(Color::Cyan),
                _ => Style::default().fg(Color::Magenta),
            };
            Line::from(vec![
                Span::styled(
                    format!("{} ", clock(&e.time)),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::raw(format!("{:<12} ", e.service)),
                Span::styled(format!("{:<kind_w$} ", e.kind), kind_style),
                Span::raw(e.message.clone()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_logs(f: &mut Frame, area: Rect, app: &App) {
    let Some(pane) = &app.logs else { return };
    let title = format!(" log {} · following · l closes ", pane.instance);
    let block = block(title, true);
    let height = block.inner(area).height as usize;
    let skip = pane.lines.len().saturating_sub(height);
    let lines: Vec<Line> = pane
        .lines
        .iter()
        .skip(skip)
        .map(|l| {
            let text_style = if l.stream == LogStream::Err && !l.timestamp.is_empty() {
                Style::default().fg(Color::LightRed)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(
                    format!("{} ", clock(&l.timestamp)),
                    Style::default().fg(Color::DarkGray),
                ),
                Span::styled(l.text.clone(), text_style),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_status(f: &mut Frame, area: Rect, app: &App, now: Instant) {
    let line = if let Some((since, why)) = &app.down {
        Line::from(Span::styled(
            format!(
                " {why} — retrying every {}s (down {}) ",
                app.interval.as_secs_f64(),
                human_secs(now.saturating_duration_since(*since).as_secs())
            ),
            Style::default().fg(Color::White).bg(Color::Red),
        ))
    } else if let Some(n) = &app.notice {
        let colour = if n.error { Color::Red } else { Color::Green };
        Line::from(Span::styled(
            format!(" {} ", n.text),
            Style::default().fg(colour),
        ))
    } else {
        Line::from(Span::styled(
            " ↑↓ select · Tab switch table · +/- scale · l logs · ? help · q quit",
            Style::default().fg(Color::DarkGray),
        ))
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_help(f: &mut Frame) {
    let width = 78;
    let height = HELP.len() as u16 + 4;
    let [area] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(f.area());
    let [area] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {keys:<19} "),
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " Press ? or Esc to close.",
        Style::default().fg(Color::DarkGray),
    )));
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).block(block(" keys ", true)), area);
}

/// `12:00:01` from an RFC 3339 timestamp (the date is rarely what one looks for here).
fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use serde_json::json;
    use std::time::Duration;

    fn screen(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, app, Instant::now())).unwrap();
        let buffer = terminal.backend().buffer();
        let mut out = String::new();
        for y in 0..height {
            for x in 0..width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn app() -> App {
        let mut app = App::new(Duration::from_secs(1));
        let status = json!({
            "gateway": "http://127.0.0.1:8080",
            "services": [{
                "name": "web", "desired": 2, "min": 1, "max": 4, "route": "/", "revision": 1,
                "traffic": {"rps": 3.0, "p95_ms": 4.5, "error_rate": 0.0},
                "instances": [
                    {"id": "web-1", "state": "healthy", "port": 4001, "pid": 11, "revision": 1,
                     "restarts": 0, "uptime_secs": 75, "inflight": 1, "requests": 10,
                     "cpu_percent": 3.0, "memory_bytes": 3145728},
                    {"id": "web-2", "state": "starting", "port": 4002, "pid": 12, "revision": 1,
                     "restarts": 2, "uptime_secs": 1, "inflight": 0, "requests": 0}
                ]
            }]
        });
        app.on_status(&status, Instant::now());
        app.on_events(
            &[
                json!({"seq": 1, "time": "2024-05-01T12:00:01.000Z", "service": "web",
                     "kind": "started", "message": "web-1 started"}),
            ],
            true,
        );
        app
    }

    #[test]
    fn a_frame_shows_services_instances_and_events() {
        let s = screen(&app(), 160, 40);
        for want in [
            "shoal top",
            "gateway http://127.0.0.1:8080",
            "1/2 healthy",
            "1..4",
            "4.5ms",
            "web instances (2)",
            "web-1",
            "healthy",
            "starting",
            "3.0MiB",
            "1m15s",
            "CPU web-1",
            "requests/s web-1",
            "12:00:01",
            "web-1 started",
            "? help",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
    }

    #[test]
    fn unreachable_and_help_are_shown() {
        let mut app = app();
        app.on_unreachable(
            "cannot reach shoal at http://x: refused".into(),
            Instant::now(),
        );
        app.help = true;
        let s = screen(&app, 120, 40);
        assert!(s.contains("UNREACHABLE"), "{s}");
        assert!(
            s.contains("cannot reach shoal at http://x: refused — retrying"),
            "{s}"
        );
        assert!(s.contains("follow the selected instance's log"), "{s}");
    }

    #[test]
    fn a_tiny_terminal_does_not_panic() {
        let mut app = app();
        app.help = true;
        screen(&app, 20, 5);
        screen(&App::new(Duration::from_secs(1)), 80, 24);
    }

    /// A Redis tier behind a listener, with volumes, and a service waiting for it.
    fn tiers() -> App {
        let mut app = App::new(Duration::from_secs(1));
        let status = |accepted: u64| {
            json!({"services": [
                {"name": "cache", "desired": 1, "min": 1, "max": 2, "revision": 1, "traffic": {"rps": 0.0},
                 "tcp": {"listen": "127.0.0.1:6380", "open": 3, "max_connections": 1024,
                         "accepted": accepted, "refused": 2, "no_instance": 0,
                         "bytes_in": accepted * 10, "bytes_out": 0},
                 "volumes": "/data/volumes/cache", "tags": ["primary"],
                 "instances": [{"id": "cache-1", "state": "healthy", "port": 4001, "pid": 11,
                                "revision": 1, "restarts": 0, "uptime_secs": 5, "inflight": 0,
                                "requests": 0, "connections": 3,
                                "volume": "/data/volumes/cache/cache-1"}]},
                {"name": "worker", "desired": 1, "min": 1, "max": 1, "revision": 1, "traffic": {},
                 "depends_on": ["cache"], "waiting_for": ["cache"], "instances": []}
            ]})
        };
        let t0 = Instant::now();
        app.on_status(&status(10), t0);
        app.on_status(&status(14), t0 + Duration::from_secs(2));
        app
    }

    #[test]
    fn a_tcp_tier_shows_its_listener_connections_volume_and_order() {
        let mut app = tiers();
        let s = screen(&app, 160, 45);
        for want in [
            "TCP",
            ":6380 3 conns",
            "waiting for cache",
            "CONNS",
            "tcp 127.0.0.1:6380 · 3/1024 open · 2.0 conn/s (14 accepted)",
            "2 refused",
            "tags primary · volume cache-1 /data/volumes/cache/cache-1",
            "connections cache-1 · now 3",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        // The HTTP-only figures of a TCP-only service are not shown as zeros.
        let cache_row = s.lines().find(|l| l.contains("cache    1/1")).unwrap();
        assert!(!cache_row.contains("0.0"), "{cache_row}");
        app.move_selection(1);
        let s = screen(&app, 160, 45);
        assert!(s.contains("WAITING FOR cache · starts after cache"), "{s}");
    }

    #[test]
    fn narrow_terminals_drop_the_least_needed_columns_first() {
        let app = tiers();
        let s = screen(&app, 80, 30);
        for want in [
            "SERVICE",
            "INSTANCES",
            "TCP",
            "NOTE",
            "waiting for cache",
            "CONNS",
        ] {
            assert!(s.contains(want), "missing {want:?} at 80 columns:\n{s}");
        }
        for gone in ["MIN..MAX", "REV ", "CPU HISTORY", "INFLIGHT"] {
            assert!(
                !s.contains(gone),
                "{gone:?} should give way at 80 columns:\n{s}"
            );
        }
        // Every line still fits: nothing wraps or spills.
        assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");
        screen(&app, 40, 20);
    }

    #[test]
    fn inline_sparkline_scales_to_ten_percent_at_least() {
        assert_eq!(inline_sparkline(None), "");
        assert_eq!(inline_sparkline(Some(vec![0, 50, 100])), "▁▄█");
        assert_eq!(inline_sparkline(Some(vec![0, 1000])), "▁█");
        assert_eq!(
            inline_sparkline(Some(vec![7; 40])).chars().count(),
            INLINE_SAMPLES
        );
    }
}
