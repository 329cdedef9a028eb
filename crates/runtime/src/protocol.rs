//! The shim's control channel: one message per line on the shim's stdout.
//!
//! ```text
//! nolimits cannot write "50000 100000" to ...   the limits are not enforced (sent before pid)
//! pid 4242                  the program was started
//! error permission denied: /srv/bin/web   the program could not be started
//! exit code 3               the program exited on its own
//! exit signal 9             the program was killed by a signal
//! ```

use crate::exit::ExitInfo;

/// One message from the shim to shoal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ControlMsg {
    /// The instance runs without its cgroup, so its limits are not enforced; the text says why.
    NoLimits(String),
    /// The program runs with this pid.
    Pid(u32),
    /// The program could not be started; the text is for the operator.
    Error(String),
    /// The program ended.
    Exit(ExitInfo),
}

impl ControlMsg {
    /// The message as one line, newline included.
    pub(crate) fn encode(&self) -> String {
        let one_line = |message: &str| -> String {
            message
                .chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect()
        };
        match self {
            ControlMsg::NoLimits(reason) => format!("nolimits {}\n", one_line(reason)),
            ControlMsg::Pid(pid) => format!("pid {pid}\n"),
            ControlMsg::Error(message) => format!("error {}\n", one_line(message)),
            ControlMsg::Exit(ExitInfo::Code(code)) => format!("exit code {code}\n"),
            ControlMsg::Exit(ExitInfo::Signal(signal)) => format!("exit signal {signal}\n"),
            ControlMsg::Exit(ExitInfo::Lost) => "exit lost\n".to_owned(),
        }
    }

    /// Parses one line (without its newline); `None` if it is not a known message.
    pub(crate) fn parse(line: &str) -> Option<ControlMsg> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "nolimits" => Some(ControlMsg::NoLimits(rest.to_owned())),
            "pid" => rest.parse().ok().map(ControlMsg::Pid),
            "error" => Some(ControlMsg::Error(rest.to_owned())),
            "exit" => {
                let info = match rest.split_once(' ') {
                    Some(("code", n)) => ExitInfo::Code(n.parse().ok()?),
                    Some(("signal", n)) => ExitInfo::Signal(n.parse().ok()?),
                    None if rest == "lost" => ExitInfo::Lost,
                    _ => return None,
                };
                Some(ControlMsg::Exit(info))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for msg in [
            ControlMsg::NoLimits("cannot create /sys/fs/cgroup/x: read-only".into()),
            ControlMsg::Pid(4242),
            ControlMsg::Error("permission denied: /srv/bin/web".into()),
            ControlMsg::Exit(ExitInfo::Code(-1)),
            ControlMsg::Exit(ExitInfo::Code(3)),
            ControlMsg::Exit(ExitInfo::Signal(9)),
            ControlMsg::Exit(ExitInfo::Lost),
        ] {
            let line = msg.encode();
            assert!(line.ends_with('\n'));
            assert_eq!(ControlMsg::parse(line.trim_end_matches('\n')), Some(msg));
        }
    }

    #[test]
    fn errors_stay_on_one_line() {
        let line = ControlMsg::Error("a\nb\r\nc".into()).encode();
        assert_eq!(line, "error a b  c\n");
    }

    #[test]
    fn garbage_is_rejected() {
        for line in [
            "",
            "pid",
            "pid x",
            "exit",
            "exit code",
            "exit code x",
            "exit what 1",
            "hello",
        ] {
            assert_eq!(ControlMsg::parse(line), None, "{line:?}");
        }
    }
}
