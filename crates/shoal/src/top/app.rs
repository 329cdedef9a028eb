//! The dashboard's state: the last status and events from the admin API, what is selected, the
//! sparkline histories kept on this side (the API only reports the present), the log pane and
//! the status line. Pure: every change comes in as a value, so it is tested without a terminal.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use shoal_runtime::{LogFollower, LogLine};
use tokio::time::Instant;

use super::tier::{strings, TcpMeter, TcpView};

/// Samples kept per sparkline: five minutes at the default interval, more than any screen shows.
pub const HISTORY: usize = 300;
/// Events kept for the events pane.
pub const EVENTS_KEPT: usize = 500;
/// Lines kept in the log pane (and read back from the file when it opens).
pub const LOG_LINES_KEPT: usize = 500;

/// One service as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceView {
    pub name: String,
    pub desired: u64,
    pub min: u64,
    pub max: u64,
    pub autoscaled: bool,
    pub fail_open: bool,
    pub route: Option<String>,
    pub rps: Option<f64>,
    pub p95_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub revision: Option<u64>,
    /// A rollout in progress, as one short phrase.
    pub rollout: Option<String>,
    /// The gateway's TCP listener for it, if it has one.
    pub tcp: Option<TcpView>,
    /// Stateful: the directory holding each identity's volume.
    pub volumes: Option<String>,
    /// The services it starts after.
    pub depends_on: Vec<String>,
    /// Of those, the ones it still waits for before its first instance starts.
    pub waiting_for: Vec<String>,
    pub tags: Vec<String>,
    pub instances: Vec<InstanceView>,
}

impl ServiceView {
    /// Instances in the `healthy` state.
    pub fn healthy(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| i.state == "healthy")
            .count()
    }

    /// Reached only through its TCP listener: its HTTP figures would always read zero.
    pub fn tcp_only(&self) -> bool {
        self.tcp.is_some() && self.route.is_none()
    }
}

/// One instance as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstanceView {
    pub id: String,
    pub state: String,
    pub ejected: bool,
    pub revision: Option<u64>,
    pub port: Option<u64>,
    pub pid: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub inflight: u64,
    pub restarts: u64,
    pub uptime_secs: Option<u64>,
    /// Requests served since the instance started (the rate is derived from two readings).
    pub requests: u64,
    /// TCP connections open to it through the service's listener.
    pub connections: u64,
    /// Stateful: its persistent directory.
    pub volume: Option<String>,
}

/// One event of `GET /v1/events`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub seq: u64,
    pub time: String,
    pub service: String,
    pub kind: String,
    pub message: String,
}

/// Which table the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Services,
    Instances,
}

/// What the status line says: the outcome of the last action, or why the data is stale.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// Client-side history of one instance: CPU and request rate, one sample per poll.
#[derive(Debug, Default)]
pub struct History {
    /// CPU percent × 10 (sparklines take integers; tenths keep idle instances visible).
    pub cpu: VecDeque<u64>,
    /// Requests per second × 10.
    pub rps: VecDeque<u64>,
    /// Open TCP connections through the listener.
    pub conns: VecDeque<u64>,
    /// The last reading of the request counter, to turn the next one into a rate.
    last: Option<(u64, Instant)>,
}

impl History {
    fn push(&mut self, i: &InstanceView, now: Instant) {
        let cpu = i.cpu_percent.unwrap_or(0.0).max(0.0);
        let rps = match self.last {
            Some((count, at)) if i.requests >= count && now > at => {
                (i.requests - count) as f64 / (now - at).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last = Some((i.requests, now));
        push_capped(&mut self.cpu, (cpu * 10.0).round() as u64);
        push_capped(&mut self.rps, (rps * 10.0).round() as u64);
        push_capped(&mut self.conns, i.connections);
    }

    /// The latest request rate, per second.
    pub fn rps_now(&self) -> Option<f64> {
        self.rps.back().map(|r| *r as f64 / 10.0)
    }
}

fn push_capped(q: &mut VecDeque<u64>, v: u64) {
    if q.len() == HISTORY {
        q.pop_front();
    }
    q.push_back(v);
}

/// The log pane: one instance's log, followed.
pub struct LogPane {
    pub instance: String,
    pub lines: VecDeque<LogLine>,
    follower: LogFollower,
}

/// The whole dashboard state.
pub struct App {
    pub services: Vec<ServiceView>,
    pub gateway: Option<String>,
    pub focus: Focus,
    pub service_sel: usize,
    pub instance_sel: usize,
    pub history: HashMap<String, History>,
    /// Rates of each TCP listener, by service.
    pub tcp: HashMap<String, TcpMeter>,
    pub events: VecDeque<EventView>,
    pub notice: Option<Notice>,
    /// Set while the admin API does not answer: since when, and the last error.
    pub down: Option<(Instant, String)>,
    /// When the last status arrived.
    pub updated: Option<Instant>,
    pub help: bool,
    pub logs: Option<LogPane>,
    pub data_dir: Option<PathBuf>,
    pub interval: Duration,
}

impl App {
    /// An empty dashboard that polls every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            services: Vec::new(),
            gateway: None,
            focus: Focus::Services,
            service_sel: 0,
            instance_sel: 0,
            history: HashMap::new(),
            tcp: HashMap::new(),
            events: VecDeque::new(),
            notice: None,
            down: None,
            updated: None,
            help: false,
            logs: None,
            data_dir: None,
            interval,
        }
    }

    /// The selected service, if there is any service.
    pub fn service(&self) -> Option<&ServiceView> {
        self.services.get(self.service_sel)
    }

    /// The selected instance of the selected service.
    pub fn instance(&self) -> Option<&InstanceView> {
        self.service()?.instances.get(self.instance_sel)
    }

    /// A new status document: keeps the same service and instance selected (by name, so a
    /// scale-out or a reordering does not move the selection) and extends the histories.
    pub fn on_status(&mut self, status: &Value, now: Instant) {
        let keep_service = self.service().map(|s| s.name.clone());
        let keep_instance = self.instance().map(|i| i.id.clone());
        self.services = parse_services(status);
        self.gateway = status["gateway"].as_str().map(str::to_string);
        self.down = None;
        self.updated = Some(now);
        if self.data_dir.is_none() {
            self.data_dir = status["data_dir"].as_str().map(PathBuf::from);
        }
        if let Some(name) = keep_service {
            if let Some(i) = self.services.iter().position(|s| s.name == name) {
                self.service_sel = i;
            }
        }
        self.service_sel = self.service_sel.min(self.services.len().saturating_sub(1));
        let instances = self.service().map_or(&[][..], |s| &s.instances[..]);
        let found = keep_instance.and_then(|id| instances.iter().position(|x| x.id == id));
        let count = instances.len();
        if let Some(i) = found {
            self.instance_sel = i;
        }
        self.instance_sel = self.instance_sel.min(count.saturating_sub(1));

        let mut seen = std::collections::HashSet::new();
        for i in self.services.iter().flat_map(|s| &s.instances) {
            seen.insert(i.id.clone());
            self.history.entry(i.id.clone()).or_default().push(i, now);
        }
        // Instances that are gone take their history with them.
        self.history.retain(|id, _| seen.contains(id));
        for s in &self.services {
            if let Some(tcp) = &s.tcp {
                self.tcp.entry(s.name.clone()).or_default().push(tcp, now);
            }
        }
        let listeners = &self.services;
        self.tcp
            .retain(|name, _| listeners.iter().any(|s| &s.name == name && s.tcp.is_some()));
    }

    /// The admin API did not answer: keep the last screen, say why, keep polling.
    pub fn on_unreachable(&mut self, error: String, now: Instant) {
        let since = self.down.as_ref().map_or(now, |(since, _)| *since);
        self.down = Some((since, error));
    }

    /// New events; with `reset` they replace the list (shoal was restarted or just reached).
    pub fn on_events(&mut self, events: &[Value], reset: bool) {
        if reset {
            self.events.clear();
        }
        for e in events {
            let ev = EventView {
                seq: e["seq"].as_u64().unwrap_or(0),
                time: e["time"].as_str().unwrap_or("").to_string(),
                service: e["service"].as_str().unwrap_or("").to_string(),
                kind: e["kind"].as_str().unwrap_or("").to_string(),
                message: e["message"].as_str().unwrap_or("").to_string(),
            };
            if self.events.back().is_some_and(|last| last.seq >= ev.seq) {
                continue;
            }
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
            }
            self.events.push_back(ev);
        }
    }

    /// Says something in the status line.
    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    /// Moves the selection in the focused table by `by` rows, stopping at the ends.
    pub fn move_selection(&mut self, by: isize) {
        match self.focus {
            Focus::Services => {
                let n = self.services.len();
                let next = step(self.service_sel, by, n);
                if next != self.service_sel {
                    self.service_sel = next;
                    self.instance_sel = 0;
                }
            }
            Focus::Instances => {
                let n = self.service().map_or(0, |s| s.instances.len());
                self.instance_sel = step(self.instance_sel, by, n);
            }
        }
    }

    /// Switches the arrows to the other table.
    pub fn toggle_focus(&mut self) {
        self.focus = match self.focus {
            Focus::Services => Focus::Instances,
            Focus::Instances => Focus::Services,
        };
    }

    /// Opens the log pane on the selected instance, or closes it if it already shows that one.
    /// Returns what to tell the user when it cannot be opened.
    pub fn toggle_logs(&mut self) -> Result<(), String> {
        let Some(id) = self.instance().map(|i| i.id.clone()) else {
            return Err("no instance selected".into());
        };
        if self.logs.as_ref().is_some_and(|p| p.instance == id) {
            self.logs = None;
            return Ok(());
        }
        let Some(dir) = self.data_dir.clone() else {
            return Err("the data dir is not known yet (is shoal running?)".into());
        };
        self.logs = Some(open_log(&dir.join("logs"), &id));
        Ok(())
    }

    /// Reads what the followed instance wrote since the last call.
    pub fn poll_logs(&mut self) {
        if let Some(pane) = self.logs.as_mut() {
            match pane.follower.poll() {
                Ok(lines) => {
                    for l in lines {
                        if pane.lines.len() == LOG_LINES_KEPT {
                            pane.lines.pop_front();
                        }
                        pane.lines.push_back(l);
                    }
                }
                Err(e) => {
                    let text = format!("reading the log of {}: {e}", pane.instance);
                    self.notify(text, true);
                }
            }
        }
    }
}

fn open_log(dir: &Path, id: &str) -> LogPane {
    let path = dir.join(format!("{id}.log"));
    let lines = shoal_runtime::tail_lines(&path, id, LOG_LINES_KEPT).unwrap_or_default();
    LogPane {
        instance: id.to_string(),
        lines: lines.into(),
        follower: LogFollower::new(&path, id, true),
    }
}

fn step(at: usize, by: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    at.saturating_add_signed(by).min(len - 1)
}

/// The services of a `GET /v1/status` document.
pub fn parse_services(status: &Value) -> Vec<ServiceView> {
    let services = status["services"].as_array().map_or(&[][..], Vec::as_slice);
    services
        .iter()
        .map(|s| ServiceView {
            name: s["name"].as_str().unwrap_or("").to_string(),
            desired: s["desired"].as_u64().unwrap_or(0),
            min: s["min"].as_u64().unwrap_or(0),
            max: s["max"].as_u64().unwrap_or(0),
            autoscaled: s["autoscaled"] == true,
            fail_open: s["fail_open"] == true,
            route: s["route"].as_str().map(str::to_string),
            rps: s["traffic"]["rps"].as_f64(),
            p95_ms: s["traffic"]["p95_ms"].as_f64(),
            error_rate: s["traffic"]["error_rate"].as_f64(),
            revision: s["revision"].as_u64(),
            rollout: rollout_phrase(&s["rollout"]),
            tcp: TcpView::parse(&s["tcp"]),
            volumes: s["volumes"].as_str().map(str::to_string),
            depends_on: strings(&s["depends_on"]),
            waiting_for: strings(&s["waiting_for"]),
            tags: strings(&s["tags"]),
            instances: s["instances"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(parse_instance)
                .collect(),
        })
        .collect()
}

fn parse_instance(i: &Value) -> InstanceView {
    InstanceView {
        id: i["id"].as_str().unwrap_or("").to_string(),
        state: i["state"].as_str().unwrap_or("").to_string(),
        ejected: i["ejected"] == true,
        revision: i["revision"].as_u64(),
        port: i["port"].as_u64(),
        pid: i["pid"].as_u64(),
        cpu_percent: i["cpu_percent"].as_f64(),
        memory_bytes: i["memory_bytes"].as_u64(),
        inflight: i["inflight"].as_u64().unwrap_or(0),
        restarts: i["restarts"].as_u64().unwrap_or(0),
        uptime_secs: i["uptime_secs"].as_u64(),
        requests: i["requests"].as_u64().unwrap_or(0),
        connections: i["connections"].as_u64().unwrap_or(0),
        volume: i["volume"].as_str().map(str::to_string),
    }
}

/// `r3←2 rolling 1/3` or `r3←2 canary 10% 1/2`: a rollout in a table cell.
fn rollout_phrase(r: &Value) -> Option<String> {
    if !r.is_object() {
        return None;
    }
    let mut s = format!(
        "r{}←{} {} {}/{}",
        r["revision"],
        r["from"],
        r["phase"].as_str().unwrap_or("?"),
        r["updated"],
        r["desired"]
    );
    if let Some(w) = r["canary_weight"].as_u64() {
        s.push_str(&format!(" · {w}% step {}/{}", r["step"][0], r["step"][1]));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(web_instances: &[(&str, &str, u64)]) -> Value {
        let instances: Vec<Value> = web_instances
            .iter()
            .map(|(id, state, requests)| {
                json!({"id": id, "state": state, "port": 4000, "pid": 42, "revision": 1,
                       "restarts": 0, "uptime_secs": 5, "inflight": 0, "requests": requests,
                       "cpu_percent": 12.5, "memory_bytes": 1048576, "ejected": false})
            })
            .collect();
        json!({
            "gateway": "http://127.0.0.1:8080",
            "data_dir": "/data",
            "services": [
                {"name": "api", "desired": 1, "min": 1, "max": 2, "instances": [], "traffic": {}},
                {"name": "web", "desired": web_instances.len(), "min": 1, "max": 6,
                 "route": "/", "autoscaled": false, "revision": 3,
                 "traffic": {"rps": 2.5, "p95_ms": 12.0, "error_rate": 0.0},
                 "rollout": {"revision": 3, "from": 2, "phase": "rolling", "updated": 1, "desired": 3},
                 "instances": instances}
            ]
        })
    }

    #[test]
    fn parses_what_status_reports() {
        let s = parse_services(&status(&[
            ("web-1", "healthy", 10),
            ("web-2", "starting", 0),
        ]));
        assert_eq!(s.len(), 2);
        let web = &s[1];
        assert_eq!((web.desired, web.min, web.max), (2, 1, 6));
        assert_eq!(web.healthy(), 1);
        assert_eq!(web.rollout.as_deref(), Some("r3←2 rolling 1/3"));
        assert_eq!(web.instances[0].memory_bytes, Some(1 << 20));
        assert_eq!(s[0].rollout, None);
        assert_eq!(s[0].rps, None);
    }

    fn tiers(accepted: u64, waiting: &[&str]) -> Value {
        json!({"services": [
            {"name": "cache", "desired": 1, "min": 1, "max": 1, "traffic": {},
             "tcp": {"listen": "127.0.0.1:6380", "open": 2, "max_connections": 1024,
                     "accepted": accepted, "refused": 1, "no_instance": 0,
                     "bytes_in": accepted * 100, "bytes_out": 0},
             "volumes": "/data/volumes/cache", "tags": ["primary"],
             "instances": [{"id": "cache-1", "state": "healthy", "connections": 2,
                            "volume": "/data/volumes/cache/cache-1"}]},
            {"name": "app", "desired": 1, "min": 1, "max": 1, "traffic": {},
             "depends_on": ["cache", "db"], "waiting_for": waiting, "instances": []}
        ]})
    }

    #[test]
    fn parses_tiers_and_meters_each_listener() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1));
        app.on_status(&tiers(10, &["db"]), t0);
        let cache = &app.services[0];
        assert_eq!(
            cache.tcp.as_ref().map(|t| (t.open, t.refused)),
            Some((2, 1))
        );
        assert!(cache.tcp_only());
        assert_eq!(cache.tags, ["primary"]);
        assert_eq!(cache.volumes.as_deref(), Some("/data/volumes/cache"));
        let inst = &cache.instances[0];
        assert_eq!(inst.connections, 2);
        assert_eq!(inst.volume.as_deref(), Some("/data/volumes/cache/cache-1"));
        let dependent = &app.services[1];
        assert_eq!(
            (dependent.depends_on.len(), &dependent.waiting_for[..]),
            (2, &["db".to_string()][..])
        );
        assert!(dependent.tcp.is_none() && !dependent.tcp_only());
        assert_eq!(app.history["cache-1"].conns.back(), Some(&2));

        app.on_status(&tiers(16, &[]), t0 + Duration::from_secs(2));
        let rates = app.tcp["cache"].rates.unwrap();
        assert_eq!((rates.accepted, rates.bytes_in), (3.0, 300.0));
        assert!(app.services[1].waiting_for.is_empty());
        assert!(
            !app.tcp.contains_key("app"),
            "only services with a listener are metered"
        );
        // The listener goes (an apply removed it): so does its meter.
        app.on_status(&status(&[]), t0 + Duration::from_secs(3));
        assert!(app.tcp.is_empty());
    }

    #[test]
    fn selection_follows_names_across_updates_and_stays_in_range() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1));
        app.on_status(
            &status(&[("web-1", "healthy", 0), ("web-2", "healthy", 0)]),
            t0,
        );
        app.move_selection(1);
        assert_eq!(app.service().unwrap().name, "web");
        app.toggle_focus();
        app.move_selection(5);
        assert_eq!(app.instance().unwrap().id, "web-2");
        // web-0 appears first: web-2 stays selected.
        let three = [
            ("web-0", "starting", 0),
            ("web-1", "healthy", 0),
            ("web-2", "healthy", 0),
        ];
        app.on_status(&status(&three), t0 + Duration::from_secs(1));
        assert_eq!(app.instance().unwrap().id, "web-2");
        // The selected instance goes: the selection stays within the list.
        app.on_status(
            &status(&[("web-0", "healthy", 0)]),
            t0 + Duration::from_secs(2),
        );
        assert_eq!(app.instance().unwrap().id, "web-0");
        assert!(!app.history.contains_key("web-2"));
        app.move_selection(-3);
        assert_eq!(app.instance_sel, 0);
    }

    #[test]
    fn request_rate_comes_from_two_readings() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1));
        app.on_status(&status(&[("web-1", "healthy", 100)]), t0);
        app.on_status(
            &status(&[("web-1", "healthy", 150)]),
            t0 + Duration::from_secs(2),
        );
        let h = &app.history["web-1"];
        assert_eq!(h.rps.iter().copied().collect::<Vec<_>>(), [0, 250]);
        assert_eq!(h.rps_now(), Some(25.0));
        assert_eq!(h.cpu.back(), Some(&125));
        // A restarted instance's counter starts over: no negative rate.
        app.on_status(
            &status(&[("web-1", "healthy", 3)]),
            t0 + Duration::from_secs(3),
        );
        assert_eq!(app.history["web-1"].rps_now(), Some(0.0));
    }

    #[test]
    fn history_is_capped() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1));
        for n in 0..(HISTORY as u64 + 20) {
            app.on_status(
                &status(&[("web-1", "healthy", n)]),
                t0 + Duration::from_secs(n),
            );
        }
        assert_eq!(app.history["web-1"].cpu.len(), HISTORY);
    }

    #[test]
    fn events_append_without_duplicates_and_reset_on_reconnect() {
        let mut app = App::new(Duration::from_secs(1));
        let e = |seq: u64| json!({"seq": seq, "time": "2024-05-01T12:00:00.000Z", "service": "web", "kind": "started", "message": format!("m{seq}")});
        app.on_events(&[e(1), e(2)], false);
        app.on_events(&[e(2), e(3)], false);
        assert_eq!(app.events.len(), 3);
        app.on_events(&[e(1)], true);
        assert_eq!(app.events.len(), 1);
    }

    #[test]
    fn unreachable_keeps_the_first_time_and_status_clears_it() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1));
        app.on_unreachable("refused".into(), t0);
        app.on_unreachable("refused again".into(), t0 + Duration::from_secs(1));
        let (since, why) = app.down.clone().unwrap();
        assert_eq!((since, why.as_str()), (t0, "refused again"));
        app.on_status(&status(&[]), t0 + Duration::from_secs(2));
        assert!(app.down.is_none());
    }

    #[test]
    fn log_pane_needs_an_instance_and_toggles() {
        let dir = std::env::temp_dir().join(format!("shoal-top-logs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(
            dir.join("logs/web-1.log"),
            "2024-05-01T12:00:00.000Z out hello\n",
        )
        .unwrap();
        let mut app = App::new(Duration::from_secs(1));
        assert!(app.toggle_logs().is_err());
        let mut s = status(&[("web-1", "healthy", 0)]);
        s["data_dir"] = json!(dir.to_str().unwrap());
        app.on_status(&s, Instant::now());
        app.move_selection(1);
        app.toggle_logs().unwrap();
        let pane = app.logs.as_ref().unwrap();
        assert_eq!(pane.lines.len(), 1);
        assert_eq!(pane.lines[0].text, "hello");
        std::fs::write(
            dir.join("logs/web-1.log"),
            "2024-05-01T12:00:00.000Z out hello\n2024-05-01T12:00:01.000Z err again\n",
        )
        .unwrap();
        app.poll_logs();
        assert_eq!(app.logs.as_ref().unwrap().lines.len(), 2);
        app.toggle_logs().unwrap();
        assert!(app.logs.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
