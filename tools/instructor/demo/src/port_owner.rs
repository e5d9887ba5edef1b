//! Which process listens on a TCP port, from Linux's own tables: the
//! listening socket's inode in `/proc/net/tcp` (and `tcp6`), then the
//! process that has that socket among its open files, `/proc/PID/fd`.
//!
//! The open files of another user's process are private: such a holder is
//! not found, and is then named only as "another program".

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A process that listens on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: u32,
    /// Its command name, as `ps` shows it.
    pub name: String,
}

impl fmt::Display for PortHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} ({})", self.pid, self.name)
    }
}

/// The process listening on `port` on any local address, if it can be seen.
pub fn holder(port: u16) -> Option<PortHolder> {
    let sockets = listening_sockets(port)?;
    if sockets.is_empty() {
        return None;
    }
    let pid = process_ids().find(|pid| !socket_inodes(*pid).is_disjoint(&sockets))?;
    Some(PortHolder {
        pid,
        name: process_name(pid),
    })
}

/// What holds `port`, for a message: the process, or "another program".
pub fn describe_holder(port: u16) -> String {
    holder(port).map_or_else(|| "another program".to_owned(), |h| h.to_string())
}

/// Whether process `pid` holds every socket listening on `port` (and there
/// is one): so that an answer on that port can only have come from it.
/// `None` where the system keeps no such tables (not Linux): it cannot say.
pub fn is_held_by(port: u16, pid: u32) -> Option<bool> {
    let sockets = listening_sockets(port)?;
    Some(!sockets.is_empty() && sockets.is_subset(&socket_inodes(pid)))
}

/// The inodes of the sockets listening on `port`, IPv4 and IPv6; `None`
/// if neither table can be read.
fn listening_sockets(port: u16) -> Option<HashSet<u64>> {
    let mut found: Option<HashSet<u64>> = None;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            found
                .get_or_insert_with(HashSet::new)
                .extend(listening_in(&text, port));
        }
    }
    found
}

/// The listening sockets on `port` in one of those tables that take
/// connections to 127.0.0.1, where the demo's programs listen and its
/// checks connect. The lines read `sl local_address rem_address st … uid
/// timeout inode …`, an address as `HEXADDRESS:HEXPORT`, LISTEN as `0A`.
fn listening_in(table: &str, port: u16) -> impl Iterator<Item = u64> {
    const LISTEN: &str = "0A";
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, local_port) = fields.get(1)?.rsplit_once(':')?;
        let listening = *fields.get(3)? == LISTEN;
        let on_port = u16::from_str_radix(local_port, 16).ok()? == port;
        let inode = fields.get(9)?.parse::<u64>().ok()?;
        (listening && on_port && inode != 0 && takes_loopback(address)?).then_some(inode)
    })
}

/// Whether a listener on `address`, as the tables write it (each 32-bit
/// word in hex, its bytes in the machine's order), takes connections to
/// 127.0.0.1: one on that address, or on every address (IPv4's or IPv6's,
/// which on Linux takes IPv4 too unless set otherwise).
fn takes_loopback(address: &str) -> Option<bool> {
    let bytes = (0..address.len())
        .step_by(8)
        .map(|start| {
            let word = u32::from_str_radix(address.get(start..start + 8)?, 16).ok()?;
            Some(word.to_ne_bytes())
        })
        .collect::<Option<Vec<[u8; 4]>>>()?
        .concat();
    match bytes.len() {
        4 => {
            let address = Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?);
            Some(address == Ipv4Addr::LOCALHOST || address.is_unspecified())
        }
        16 => {
            let address = Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
            Some(address.is_unspecified() || address.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST))
        }
        _ => None,
    }
}

/// The inodes of the sockets process `pid` has open (none if its open files
/// cannot be read).
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(files) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    files
        .flatten()
        .filter_map(|file| std::fs::read_link(file.path()).ok())
        .filter_map(|target| socket_inode(&target))
        .collect()
}

/// The inode in an open file's link, `socket:[INODE]`, if it is a socket.
fn socket_inode(link: &Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn process_ids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim_end().to_owned())
        .unwrap_or_else(|_| "name unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address as the tables write it: each 32-bit word in hex, its
    /// bytes in this machine's order.
    fn hex(bytes: &[u8]) -> String {
        bytes
            .chunks(4)
            .map(|word| {
                format!(
                    "{:08X}",
                    u32::from_ne_bytes(word.try_into().expect("4 bytes"))
                )
            })
            .collect()
    }

    /// One line of a table: a socket on `address:port` in `state`.
    fn row(address: &[u8], port: u16, state: &str, inode: u64) -> String {
        format!(
            "   0: {}:{port:04X} {}:0000 {state} 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0000000000000000 100 0 0 10 0\n",
            hex(address),
            hex(&vec![0; address.len()])
        )
    }

    #[test]
    fn only_listeners_on_the_port_that_take_loopback_connections_are_read() {
        const LISTEN: &str = "0A";
        const ESTABLISHED: &str = "01";
        let every_v6 = [0u8; 16];
        let loopback_v6 = Ipv6Addr::LOCALHOST.octets();
        let mapped_loopback = Ipv4Addr::LOCALHOST.to_ipv6_mapped().octets();
        let table = [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n".to_owned(),
            row(&[127, 0, 0, 1], 8080, LISTEN, 41001),
            row(&[127, 0, 0, 1], 8081, LISTEN, 41002),
            row(&[127, 0, 0, 1], 8080, ESTABLISHED, 41003),
            row(&[0, 0, 0, 0], 8080, LISTEN, 41004),
            row(&[10, 0, 0, 5], 8080, LISTEN, 41005),
            row(&every_v6, 8080, LISTEN, 41006),
            row(&loopback_v6, 8080, LISTEN, 41007),
            row(&mapped_loopback, 8080, LISTEN, 41008),
        ]
        .concat();

        let found: Vec<u64> = listening_in(&table, 8080).collect();
        assert_eq!(
            found,
            [41001, 41004, 41006, 41008],
            "the listeners on 8080 that answer 127.0.0.1, in:\n{table}"
        );
        let found: Vec<u64> = listening_in(&table, 8082).collect();
        assert!(found.is_empty(), "nothing listens on 8082, got {found:?}");
    }

    #[test]
    fn a_socket_link_gives_its_inode_and_other_files_none() {
        assert_eq!(socket_inode(Path::new("socket:[41001]")), Some(41001));
        assert_eq!(socket_inode(Path::new("pipe:[41001]")), None);
        assert_eq!(
            socket_inode(Path::new("target/demo/logs/catalog.log")),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_listener_of_this_process_is_found_as_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let me = std::process::id();

        let found = holder(port);
        assert_eq!(
            found.as_ref().map(|h| h.pid),
            Some(me),
            "port {port} is held by this test, process {me}; found {found:?}"
        );
        assert!(
            describe_holder(port).contains(&format!("process {me}")),
            "the description names this process: {}",
            describe_holder(port)
        );
        assert_eq!(is_held_by(port, me), Some(true), "held by this process");
        let parent = std::os::unix::process::parent_id();
        assert_eq!(
            is_held_by(port, parent),
            Some(false),
            "port {port} is not held by this test's parent, process {parent}"
        );
    }
}
