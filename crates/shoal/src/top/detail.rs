//! The selected service's place in the application, under its instance table: its TCP
//! listener (connections, rates, refusals), what it starts after and still waits for, its tags
//! and the selected instance's volume. Facts wrap onto at most [`MAX_LINES`] lines, so a
//! narrow terminal loses the least important ones at the end rather than the layout.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::app::{InstanceView, ServiceView};
use super::tier::{byte_rate, short_path, TcpMeter, TcpView};

/// Lines the facts may take.
pub const MAX_LINES: usize = 3;
/// Between two facts on a line.
const SEP: &str = " · ";
/// The connection count turns yellow above this share of `max_connections`.
const BUSY_SHARE: f64 = 0.9;

/// One fact: spans read together, never split across lines.
type Fact = Vec<Span<'static>>;

fn dim(text: impl Into<String>) -> Span<'static> {
    Span::styled(text.into(), Style::default().fg(Color::DarkGray))
}

fn plain(text: impl Into<String>) -> Span<'static> {
    Span::raw(text.into())
}

fn hot(text: impl Into<String>, colour: Color) -> Span<'static> {
    Span::styled(
        text.into(),
        Style::default().fg(colour).add_modifier(Modifier::BOLD),
    )
}

/// The facts about `service` laid out in `width` cells; empty for a plain HTTP service.
pub fn lines(
    service: &ServiceView,
    instance: Option<&InstanceView>,
    meter: Option<&TcpMeter>,
    width: u16,
) -> Vec<Line<'static>> {
    let mut groups = Vec::new();
    if let Some(tcp) = &service.tcp {
        groups.push(tcp_facts(tcp, meter));
    }
    let tier = tier_facts(service, instance, usize::from(width));
    // Waiting is why nothing runs: it goes first, so no narrow screen cuts it off.
    let at = if service.waiting_for.is_empty() {
        groups.len()
    } else {
        0
    };
    if !tier.is_empty() {
        groups.insert(at, tier);
    }
    let mut out = Vec::new();
    for group in groups {
        out.extend(wrap(group, usize::from(width)));
    }
    out.truncate(MAX_LINES);
    out
}

fn tcp_facts(tcp: &TcpView, meter: Option<&TcpMeter>) -> Vec<Fact> {
    let busy =
        tcp.max_connections > 0 && tcp.open as f64 >= BUSY_SHARE * tcp.max_connections as f64;
    let open_style = if busy {
        Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    };
    let rates = meter.and_then(|m| m.rates);
    let per_sec = |f: fn(&super::tier::TcpRates) -> f64, show: fn(f64) -> String| {
        rates.as_ref().map_or("-".to_string(), |r| show(f(r)))
    };
    let mut facts = vec![
        vec![dim("tcp "), plain(tcp.listen.clone())],
        vec![
            Span::styled(tcp.open.to_string(), open_style),
            dim(format!("/{} open", tcp.max_connections)),
        ],
        vec![
            plain(per_sec(|r| r.accepted, |v| format!("{v:.1}"))),
            dim(format!(" conn/s ({} accepted)", tcp.accepted)),
        ],
        vec![dim("in "), plain(per_sec(|r| r.bytes_in, byte_rate))],
        vec![dim("out "), plain(per_sec(|r| r.bytes_out, byte_rate))],
    ];
    if tcp.refused > 0 {
        facts.push(vec![hot(format!("{} refused", tcp.refused), Color::Red)]);
    }
    if tcp.no_instance > 0 {
        facts.push(vec![hot(
            format!("{} no instance", tcp.no_instance),
            Color::Yellow,
        )]);
    }
    facts
}

fn tier_facts(service: &ServiceView, instance: Option<&InstanceView>, width: usize) -> Vec<Fact> {
    let mut facts = Vec::new();
    if !service.waiting_for.is_empty() {
        let waiting = service.waiting_for.join(", ");
        facts.push(vec![hot(format!("WAITING FOR {waiting}"), Color::Yellow)]);
    }
    if !service.depends_on.is_empty() {
        facts.push(vec![
            dim("starts after "),
            plain(service.depends_on.join(", ")),
        ]);
    }
    if !service.tags.is_empty() {
        facts.push(vec![dim("tags "), plain(service.tags.join(", "))]);
    }
    let volume = instance.and_then(|i| Some((i.id.as_str(), i.volume.as_deref()?)));
    match (volume, &service.volumes) {
        (Some((id, path)), _) => {
            let label = format!("volume {id} ");
            let room = width.saturating_sub(label.chars().count() + 1).max(12);
            facts.push(vec![dim(label), plain(short_path(path, room))]);
        }
        (None, Some(dir)) => {
            let room = width.saturating_sub(9).max(12);
            facts.push(vec![dim("volumes "), plain(short_path(dir, room))]);
        }
        (None, None) => {}
    }
    facts
}

fn fact_width(fact: &Fact) -> usize {
    fact.iter().map(|s| s.content.chars().count()).sum()
}

/// Greedy wrapping: each line starts with a space and holds the facts that fit.
fn wrap(facts: Vec<Fact>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for fact in facts {
        let w = fact_width(&fact);
        if !line.is_empty() && used + SEP.len() + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        if line.is_empty() {
            line.push(plain(" "));
            used = 1;
        } else {
            line.push(dim(SEP));
            used += SEP.chars().count();
        }
        used += w;
        line.extend(fact);
    }
    if !line.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::tier::TcpRates;
    use serde_json::json;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    fn cache() -> ServiceView {
        let status = json!({"services": [{
            "name": "cache", "desired": 1, "min": 1, "max": 1, "traffic": {},
            "tcp": {"listen": "127.0.0.1:6380", "open": 3, "max_connections": 1024,
                    "accepted": 120, "refused": 2, "no_instance": 1, "bytes_in": 0, "bytes_out": 0},
            "volumes": "/data/volumes/cache", "depends_on": ["db"], "tags": ["primary"],
            "instances": [{"id": "cache-1", "state": "healthy", "connections": 3,
                           "volume": "/data/volumes/cache/cache-1"}]}]});
        super::super::app::parse_services(&status).remove(0)
    }

    #[test]
    fn a_wide_screen_shows_the_listener_then_the_tier() {
        let svc = cache();
        let mut meter = TcpMeter::default();
        meter.rates = Some(TcpRates {
            accepted: 2.5,
            bytes_in: 1536.0,
            bytes_out: 0.0,
        });
        let shown = text(&lines(&svc, svc.instances.first(), Some(&meter), 156));
        assert_eq!(
            shown,
            [
                " tcp 127.0.0.1:6380 · 3/1024 open · 2.5 conn/s (120 accepted) · in 1.5KiB/s · out 0B/s · 2 refused · 1 no instance",
                " starts after db · tags primary · volume cache-1 /data/volumes/cache/cache-1",
            ]
        );
    }

    #[test]
    fn narrow_screens_wrap_and_shorten_and_stop_at_three_lines() {
        let mut svc = cache();
        svc.waiting_for = vec!["db".into()];
        svc.instances[0].volume = Some("/tmp/shoal-e2e-1-2-top/data/volumes/cache/cache-1".into());
        let shown = text(&lines(&svc, svc.instances.first(), None, 60));
        assert_eq!(shown.len(), MAX_LINES, "{shown:#?}");
        assert!(shown.iter().all(|l| l.chars().count() <= 60), "{shown:#?}");
        assert!(
            shown[0].starts_with(" WAITING FOR db · starts after db"),
            "{shown:#?}"
        );
        assert!(shown[1].starts_with(" volume cache-1 …/"), "{shown:#?}");
        assert!(
            shown[2].contains("tcp 127.0.0.1:6380 · 3/1024 open"),
            "{shown:#?}"
        );
        assert!(
            shown[2].contains("- conn/s"),
            "no rate before two readings: {shown:#?}"
        );
        let wide = text(&lines(&svc, svc.instances.first(), None, 200));
        assert_eq!(wide.len(), 2, "{wide:#?}");
        assert!(wide[0].ends_with("/tmp/shoal-e2e-1-2-top/data/volumes/cache/cache-1"));
        // The volume's path is shortened to what the line can hold.
        let tier = text(&wrap(tier_facts(&svc, svc.instances.first(), 40), 40));
        let volume = tier.iter().find(|l| l.contains("volume")).unwrap();
        assert!(volume.contains("volume cache-1 …/"), "{tier:#?}");
        assert!(volume.chars().count() <= 40, "{tier:#?}");
    }

    #[test]
    fn a_plain_http_service_has_no_details() {
        let svc = ServiceView {
            name: "web".into(),
            route: Some("/".into()),
            ..ServiceView::default()
        };
        assert!(lines(&svc, None, None, 120).is_empty());
    }
}
