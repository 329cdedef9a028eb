//! The two listen addresses: they must not collide with each other and, when asked, must be free
//! right now, so that "address in use" is reported with the spec line instead of at startup.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};

use crate::walk::{Setting, Span, Walker};

/// One listen address with where it came from.
pub(crate) struct Listen {
    /// `gateway`, `admin` or `services.NAME`.
    pub(crate) section: String,
    /// The key that holds the address: `listen`, or `tcp` for a service.
    pub(crate) key: &'static str,
    pub(crate) addr: Setting<SocketAddr>,
    /// Position of the `[section]` table, used when the address is a default.
    pub(crate) section_span: Option<Span>,
}

impl Listen {
    fn span(&self) -> Option<Span> {
        self.addr.span.clone().or_else(|| self.section_span.clone())
    }

    /// How to write a different address for this section.
    fn example(&self, port: u16) -> String {
        let ip = self.addr.value.ip();
        format!(
            "[{}] {} = \"{}\"",
            self.section,
            self.key,
            SocketAddr::new(ip, port)
        )
    }

    /// `gateway.listen`, `services.redis.tcp`: the setting's name in messages.
    fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// True when two listeners would fight over the same port. Port 0 (any free port) never collides.
fn collide(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Checks that the gateway and admin addresses differ and (with `check_ports`) can be bound.
pub(crate) fn check(w: &mut Walker<'_>, gateway: &Listen, admin: &Listen, check_ports: bool) {
    let mut admin_collides = false;
    if let (Some(&g), Some(&a)) = (gateway.addr.ok(), admin.addr.ok()) {
        if collide(g, a) {
            admin_collides = true;
            // Point at whichever address was written; the admin one if both were.
            let at = if admin.addr.given() || !gateway.addr.given() {
                admin.span()
            } else {
                gateway.span()
            };
            let next = a.port().checked_add(1).unwrap_or(1024);
            w.error(
                at,
                format!("admin.listen ({a}) and gateway.listen ({g}) use the same port"),
                Some(format!(
                    "give the admin API its own port, e.g. {}",
                    admin.example(next)
                )),
            );
        }
    }
    if !check_ports {
        return;
    }
    for listen in [gateway, admin] {
        if admin_collides && std::ptr::eq(listen, admin) {
            continue;
        }
        check_bind(w, listen);
    }
}

/// Checks that a service's TCP listener collides with neither the gateway, the admin API nor an
/// earlier service's listener and (with `check_ports`) can be bound.
pub(crate) fn check_tcp(w: &mut Walker<'_>, fixed: &[&Listen], tcp: &[Listen], check_ports: bool) {
    for (i, listen) in tcp.iter().enumerate() {
        let Some(&addr) = listen.addr.ok() else {
            continue;
        };
        let earlier = fixed.iter().copied().chain(tcp[..i].iter());
        let clash = earlier
            .filter(|other| other.addr.ok().is_some_and(|&o| collide(o, addr)))
            .map(|other| (other.name(), other.addr.value))
            .next();
        if let Some((other, other_addr)) = clash {
            let next = addr.port().checked_add(1).unwrap_or(1024);
            w.error(
                listen.span(),
                format!(
                    "{} ({addr}) and {other} ({other_addr}) use the same port",
                    listen.name()
                ),
                Some(format!(
                    "give each listener its own port, e.g. {}",
                    listen.example(next)
                )),
            );
        } else if check_ports {
            check_bind(w, listen);
        }
    }
}

/// Reports an address that cannot be bound right now.
fn check_bind(w: &mut Walker<'_>, listen: &Listen) {
    let Some(&addr) = listen.addr.ok() else {
        return;
    };
    if let Err(e) = TcpListener::bind(addr) {
        let (message, hint) = bind_problem(listen, addr, &e);
        w.error(listen.span(), message, Some(hint));
    }
}

fn bind_problem(listen: &Listen, addr: SocketAddr, e: &std::io::Error) -> (String, String) {
    let port = addr.port();
    let other = listen.example(port.checked_add(1).unwrap_or(1024));
    let default_note = if listen.addr.given() {
        String::new()
    } else {
        format!(" ({addr} is the default for {})", listen.name())
    };
    match e.kind() {
        ErrorKind::AddrInUse => (
            format!("port {port} is in use ({addr})"),
            format!(
                "stop the program using it, or choose another address, e.g. {other}{default_note}"
            ),
        ),
        ErrorKind::AddrNotAvailable => (
            format!("address {} is not available on this machine ({addr})", addr.ip()),
            format!(
                "use 127.0.0.1 (this machine only), 0.0.0.0 (all interfaces) or an address of one of this machine's interfaces{default_note}"
            ),
        ),
        ErrorKind::PermissionDenied => (
            format!("no permission to listen on port {port} ({addr})"),
            format!("ports below 1024 need privileges; choose a higher one, e.g. {}", listen.example(8080)),
        ),
        _ => (
            format!("cannot listen on {addr}: {e}"),
            format!("choose another address, e.g. {other}{default_note}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn collisions() {
        assert!(collide(addr("127.0.0.1:80"), addr("127.0.0.1:80")));
        assert!(collide(addr("0.0.0.0:80"), addr("127.0.0.1:80")));
        assert!(!collide(addr("127.0.0.1:80"), addr("127.0.0.1:81")));
        assert!(!collide(addr("127.0.0.1:0"), addr("127.0.0.1:0")));
        assert!(!collide(addr("127.0.0.1:80"), addr("127.0.0.2:80")));
        assert!(!collide(addr("[::1]:80"), addr("127.0.0.1:80")));
    }
}
