//! A room, started and stopped: [`serve`] builds the shop's binaries once,
//! then takes its address, opens the room's folder (every learner who
//! joined it comes back, their shops stopped until they join again), and
//! serves the room's routes and each learner's port; the [`RoomHandle`] it returns stops it all, and,
//! dropped without being stopped, stops every program at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shop::Problem;
use tokio::task::JoinHandle;

use super::table::Table;
use super::{Room, Settings, plan, server};
use crate::state;

/// How long the room's server has to finish the requests under way once
/// the room stops.
const SERVER_ENDS_WITHIN: Duration = Duration::from_secs(5);

/// A room being served.
pub struct RoomHandle {
    room: Arc<Room>,
    /// The room's server, until the room is stopped.
    server: Option<JoinHandle<()>>,
}

/// Starts a room as `settings` say: the shop's and the collector's
/// binaries built (quick when up to date), then its address taken, its
/// state loaded, its routes and every known learner's port served. A
/// learner's shop starts when they join (again).
pub async fn serve(settings: Settings) -> anyhow::Result<RoomHandle> {
    // Said before the build, which takes minutes when nothing is built:
    // an address taken, or one whose learners' ports do not fit. Not
    // held across it: a room that listened while it built would take
    // joins it cannot answer.
    let probe = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("the room cannot listen on {}", settings.listen))?;
    plan::check(probe.local_addr()?.port()).map_err(anyhow::Error::msg)?;
    drop(probe);
    let root = demo::workspace_root();
    tokio::task::spawn_blocking(move || demo::build_binaries(&root, cfg!(not(debug_assertions))))
        .await
        .context("the build of the shop stopped")??;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("the room cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    plan::check(address.port()).map_err(anyhow::Error::msg)?;
    let room = Room::open(settings, address)?;
    for learner in room.learners() {
        if let Err(err) = room.open_proxy(&learner) {
            // The ports opened so far hold the room: closed with it.
            room.stop_now();
            return Err(err);
        }
    }
    let app = server::router(room.clone());
    let stopped = room.stopped();
    let server = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            println!("warning: the room's server stopped: {err}");
        }
    });
    Ok(RoomHandle {
        room,
        server: Some(server),
    })
}

impl RoomHandle {
    /// Where the room listens.
    pub fn address(&self) -> SocketAddr {
        self.room.address()
    }

    /// The room's join token.
    pub fn join_token(&self) -> &str {
        self.room.join_token()
    }

    /// The instructor's key: the room's page, and every learner's
    /// collector.
    pub fn instructor_key(&self) -> &str {
        self.room.instructor_key()
    }

    /// The room's table now.
    pub fn table(&self) -> Table {
        self.room.table(state::now_secs())
    }

    /// What was drawn for the learner `name`: the instructor's to know,
    /// never the page's.
    pub fn drawn(&self, name: &str) -> Option<Vec<Problem>> {
        Some(self.room.learner(name)?.drill().problems())
    }

    /// The port that shows the learner `name`'s collector.
    pub fn proxy_port(&self, name: &str) -> Option<u16> {
        Some(self.room.proxy_port(&*self.room.learner(name)?))
    }

    /// Stops the room: its servers, then every learner's load, shop and
    /// collector; the final table. Every learner's state stays saved.
    pub async fn stop(mut self) -> Table {
        let table = self.room.stop().await;
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SERVER_ENDS_WITHIN, &mut server)
                .await
                .is_err()
        {
            server.abort();
            // Once the aborted server is gone, so is its port.
            let _ = server.await;
        }
        table
    }
}

impl Drop for RoomHandle {
    /// A room dropped without [`RoomHandle::stop`] (a failed test, a
    /// panic) stops every program it started, at once.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            self.room.stop_now();
        }
    }
}
