//! What a room is started with: where it listens, how many learners it
//! takes and the load each one's shop runs under, the draw, its token, and
//! where its state and the programs it runs are.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Where a room listens unless told: every interface, so that the
/// learners' machines reach it. The room and each learner's port onto
/// their collector are all the workshop opens beyond loopback.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7900);

/// Learners a room takes unless told: a laptop runs a dozen shops.
pub const DEFAULT_MAX_LEARNERS: u16 = 12;

/// Customers sending requests at once to each learner's shop unless told:
/// a quarter of the drill of one's own, so that a dozen shops share one
/// machine, and enough for every problem to show.
pub const DEFAULT_CUSTOMERS: usize = 4;

/// What a room is started with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the room listens; each learner's port is on the same address,
    /// after the room's port.
    pub listen: SocketAddr,
    /// How many learners it takes, at most.
    pub max_learners: u16,
    /// Customers sending requests at once to each learner's shop.
    pub customers: usize,
    /// The first learner's seed, the next learner's the next number, so
    /// that a room can be replayed; each learner's is drawn when `None`.
    pub seed: Option<u64>,
    /// How many problems each drill plants; one to three, drawn, when
    /// `None`.
    pub problems: Option<usize>,
    /// The room's token; the saved one, or a new one, when `None`.
    pub token: Option<String>,
    /// Where the room keeps its state, and each learner's files.
    pub folder: PathBuf,
    /// Where the shop's and the collector's binaries are built.
    pub bin_dir: PathBuf,
}
