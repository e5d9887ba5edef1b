//! `just incident --room`: the instructor's command. Serves a room until
//! Ctrl-C (or SIGTERM, or SIGHUP), says how learners join and where the
//! room's page is, then stops every learner's load, shop and collector,
//! and prints the room's final table. The room's state stays in its
//! folder: run it again, and every learner and score is back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;

use anyhow::Context;
use demo::stop_signal::StopSignal;

use super::{RoomHandle, Settings, name, serve};

/// The room, from its start to its stop.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let stop = StopSignal::listen().context("cannot take Ctrl-C, SIGTERM and SIGHUP over")?;
    let folder = shown(&settings.folder);
    let (max_learners, customers) = (settings.max_learners, settings.customers);
    let room = serve(settings).await?;
    print!("{}", invitation(&room, max_learners, customers, &folder));
    let signal = stop.received().await;
    println!("{signal}: stopping every learner's load, shop and collector.");
    let table = room.stop().await;
    println!();
    print!("{table}");
    println!(
        "The room's state stays in {folder}: `just incident --room` again brings every learner and score back."
    );
    Ok(())
}

/// `folder` as the instructor reads it: from the workspace's root when it
/// is inside it (`target/incident/room`), whole otherwise.
fn shown(folder: &Path) -> String {
    folder
        .strip_prefix(demo::workspace_root())
        .unwrap_or(folder)
        .display()
        .to_string()
}

/// What the instructor is told once the room listens.
fn invitation(room: &RoomHandle, max_learners: u16, customers: usize, folder: &str) -> String {
    let listen = room.address();
    let (host, found) = reachable(listen.ip());
    let url = format!("http://{}", SocketAddr::new(host, listen.port()));
    let token = room.join_token();
    let key = room.instructor_key();
    let mut text = format!(
        "Incident room on {listen}: up to {max_learners} learners, each with a drill of their own \
         (a shop under load from {customers} customers, its collector) on this machine.\n\n\
         Each learner joins with:\n\n  just incident join {url} --token {token} --name THEIR-NAME\n\n\
         (a name is 1 to {} characters of a-z, 0-9 and '-').\n",
        name::LONGEST
    );
    if !found {
        text.push_str(&format!(
            "{host} is where the room listens: give the learners this machine's address on the \
             room's network instead.\n"
        ));
    }
    text.push_str(&format!(
        "The join token joins the room, and does nothing else.\n\n\
         The room's page, to project (counts and scores, never a problem): {url}/?key={key}\n\
         That key is yours alone: it shows the page and every learner's collector.\n\
         Each learner's collector answers on a port of its own, from {} on, on the same address \
         (`?key=YOUR-KEY` there too).\n\
         A learner's name is theirs: joining again under it takes their key, which their \
         machine keeps; one who lost it joins again with `--key KEY` added, their key read \
         from {folder}/THEIR-NAME/learner.json.\n",
        listen.port() + 1
    ));
    let back = room.table().learners.len();
    if back > 0 {
        text.push_str(&format!(
            "{back} learner{} back from {folder}, with every answer and score: each one's shop \
             starts again when they join again.\n",
            if back == 1 { " is" } else { "s are" }
        ));
    }
    text.push_str(&format!(
        "Ctrl-C stops every shop; the room's state stays in {folder}.\n"
    ));
    text
}

/// The address learners reach a room listening on `ip` at, and whether it
/// is one: `ip` itself when it is one address; for every interface, the
/// one this machine's traffic leaves by, when there is one.
fn reachable(ip: IpAddr) -> (IpAddr, bool) {
    if !ip.is_unspecified() {
        return (ip, true);
    }
    match outward_address() {
        Some(outward) => (outward, true),
        None => (ip, false),
    }
}

/// The address of the interface a packet to the outside would leave by.
/// Connecting a UDP socket sends nothing: it only picks the route (to a
/// documentation address, which nobody answers).
fn outward_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_on_one_address_is_reached_there() {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(reachable(loopback), (loopback, true));
        let (ip, found) = reachable(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        match found {
            true => assert!(!ip.is_unspecified() && !ip.is_loopback()),
            false => assert!(ip.is_unspecified()),
        }
    }
}
