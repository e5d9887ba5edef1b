//! Every port the demo will listen on, checked before it starts anything.
//! A service whose port another program holds fails at start, and that
//! other program would answer its health checks and take its load: a
//! demo measuring someone else's server. Refused here, naming the holder.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};

use crate::port_owner;

/// A port the demo needs.
#[derive(Clone, Debug)]
pub struct PortNeed {
    pub port: u16,
    /// What will listen there: "the catalog", "the collector's OTLP".
    pub user: String,
    /// How to choose another port: the option that moves it.
    pub remedy: &'static str,
}

/// The ports the demo cannot have, each with why: nothing was started.
#[derive(Debug)]
pub struct PortsTaken {
    pub reasons: Vec<String>,
}

impl fmt::Display for PortsTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nothing was started, as ports the demo needs are taken:")?;
        for reason in &self.reasons {
            write!(f, "\n  {reason}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PortsTaken {}

/// The shop's five ports from `base_port` (see [`crate::SERVICES`]), each
/// with `remedy`, the option that moves them.
pub fn shop_ports(base_port: u16, remedy: &'static str) -> Vec<PortNeed> {
    crate::SERVICES
        .iter()
        .map(|(name, offset)| PortNeed {
            port: base_port + offset,
            user: format!("the {name}"),
            remedy,
        })
        .collect()
}

/// The ports of a collector to be started: its UI's and its OTLP's.
pub fn collector_ports(ui_port: u16, otlp_port: u16, remedy: &'static str) -> Vec<PortNeed> {
    vec![
        PortNeed {
            port: ui_port,
            user: "the collector's UI".into(),
            remedy,
        },
        PortNeed {
            port: otlp_port,
            user: "the collector's OTLP".into(),
            remedy,
        },
    ]
}

/// Succeeds if every port in `needs` can be listened on (on loopback, as
/// the demo's programs do), each by one of them.
pub fn ensure_free(needs: &[PortNeed]) -> Result<(), PortsTaken> {
    let mut reasons = wanted_twice(needs);
    reasons.extend(needs.iter().filter_map(why_taken));
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(PortsTaken { reasons })
    }
}

/// A port two needs share: the second program would fail at start.
fn wanted_twice(needs: &[PortNeed]) -> Vec<String> {
    let mut users: BTreeMap<u16, Vec<&PortNeed>> = BTreeMap::new();
    for need in needs {
        users.entry(need.port).or_default().push(need);
    }
    users
        .into_iter()
        .filter(|(_, users)| users.len() > 1)
        .map(|(port, users)| {
            let names: Vec<&str> = users.iter().map(|u| u.user.as_str()).collect();
            let remedies: Vec<&str> = users.iter().map(|u| u.remedy).collect();
            format!(
                "port {port} is wanted by {}; {}",
                names.join(" and "),
                remedies.join(", or ")
            )
        })
        .collect()
}

/// Why `need`'s port cannot be listened on, if it cannot.
fn why_taken(need: &PortNeed) -> Option<String> {
    // Bound and at once released: a listener that accepted nothing leaves
    // no connection behind to block the port.
    let err = TcpListener::bind((Ipv4Addr::LOCALHOST, need.port)).err()?;
    let why = match err.kind() {
        ErrorKind::AddrInUse => format!("is in use by {}", port_owner::describe_holder(need.port)),
        _ => format!("cannot be listened on ({err})"),
    };
    Some(format!(
        "port {} ({}) {why}; {}",
        need.port, need.user, need.remedy
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(port: u16, user: &str) -> PortNeed {
        PortNeed {
            port,
            user: user.to_owned(),
            remedy: "`--base-port` moves the shop",
        }
    }

    #[test]
    fn a_port_in_use_is_refused_naming_the_port_its_user_and_its_holder() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();

        let taken = ensure_free(&[need(port, "the catalog")])
            .expect_err("a port this test listens on is not free");
        let message = taken.to_string();
        assert!(
            message.contains(&format!("port {port} (the catalog) is in use by")),
            "the message names the port and what needed it: {message}"
        );
        assert!(
            message.contains("`--base-port`"),
            "the message says how to move it: {message}"
        );
        if cfg!(target_os = "linux") {
            let me = std::process::id();
            assert!(
                message.contains(&format!("process {me}")),
                "the message names the holder, this test (process {me}): {message}"
            );
        }
    }

    #[test]
    fn a_port_wanted_twice_is_refused_though_it_is_free() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            listener.local_addr().expect("its address").port()
        };
        let taken = ensure_free(&[need(port, "the gateway"), need(port, "Prometheus")])
            .expect_err("one port cannot serve two programs");
        let message = taken.to_string();
        assert!(
            message.contains(&format!(
                "port {port} is wanted by the gateway and Prometheus"
            )),
            "the message names both users: {message}"
        );
    }

    #[test]
    fn a_free_port_passes() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            listener.local_addr().expect("its address").port()
        };
        let checked = ensure_free(&[need(port, "the catalog")]);
        assert!(
            checked.is_ok(),
            "port {port}, released, should be free: {checked:?}"
        );
    }
}
