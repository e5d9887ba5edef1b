//! Where each learner's programs listen. Learner number N (from 0, in the
//! order they joined) has the ten loopback ports from 20000 + 10 N: the
//! shop's five, then its collector's UI and its OTLP. None of them meets
//! the workshop's usual ports (8080 to 8084, 16686, 4318), the
//! detective's tests' (19080 to 19086), another learner's, or the
//! system's ephemeral ports (from 32768). Their port onto their collector
//! is on the room's address, the room's port plus 1 + N.

use crate::scenario::Ports;

/// The first learner's gateway.
pub const FIRST_SHOP_PORT: u16 = 20_000;
/// Ports between one learner's gateway and the next one's.
const STRIDE: u16 = 10;
/// The most learners a room can take: the plan's ports end at 20999.
pub const MOST_LEARNERS: u16 = 100;

/// Where learner `number`'s shop and collector listen, on loopback.
pub fn shop_ports(number: u16) -> Ports {
    let base = FIRST_SHOP_PORT + STRIDE * number;
    Ports {
        base,
        collector_ui: base + 5,
        collector_otlp: base + 6,
    }
}

/// Where learner `number`'s port onto their collector is, beside the
/// room's `listen_port` (checked by [`check`]).
pub fn proxy_port(listen_port: u16, number: u16) -> u16 {
    listen_port + 1 + number
}

/// Whether a room can listen on `listen_port`: its learners' ports after
/// it, for as many learners as a room can take, fit, and meet none of the
/// shops' ports; if not, why.
pub fn check(listen_port: u16) -> Result<(), String> {
    let shops = FIRST_SHOP_PORT..FIRST_SHOP_PORT + STRIDE * MOST_LEARNERS;
    let last = u32::from(listen_port) + u32::from(MOST_LEARNERS);
    let fits = listen_port != 0 && last <= u32::from(u16::MAX);
    let meets_a_shop = shops.contains(&listen_port)
        || (u32::from(shops.start) <= last && u32::from(listen_port) < u32::from(shops.end));
    match fits && !meets_a_shop {
        true => Ok(()),
        false => Err(format!(
            "a room cannot listen on port {listen_port}: the {MOST_LEARNERS} ports after it are \
             its learners' (one each), and the learners' shops take {} to {} on loopback; \
             choose a port from 1 to {} outside {} to {} (`--listen 0.0.0.0:7900`)",
            shops.start,
            shops.end - 1,
            u16::MAX - MOST_LEARNERS,
            shops.start.saturating_sub(MOST_LEARNERS),
            shops.end - 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_learner_has_ports_of_their_own() {
        let mut seen = std::collections::BTreeSet::new();
        for number in 0..MOST_LEARNERS {
            let ports = shop_ports(number);
            let mine = [
                ports.base,
                ports.base + 1,
                ports.base + 2,
                ports.base + 3,
                ports.base + 4,
                ports.collector_ui,
                ports.collector_otlp,
                proxy_port(7900, number),
            ];
            for port in mine {
                assert!(seen.insert(port), "port {port} twice");
                assert!(!(8080..=8084).contains(&port) && port != 16686 && port != 4318);
                assert!(!(19080..=19086).contains(&port) && port < 32768);
            }
        }
    }

    #[test]
    fn a_room_listens_where_its_learners_ports_fit() {
        assert_eq!(check(7900), Ok(()));
        assert_eq!(check(40000), Ok(()));
        for refused in [0, 19950, 20500, 65500] {
            let why = check(refused).unwrap_err();
            assert!(why.contains(&format!("port {refused}")), "{why}");
        }
        assert_eq!(check(19899), Ok(()));
        assert!(check(19900).is_err());
        assert_eq!(check(21000), Ok(()));
    }
}
