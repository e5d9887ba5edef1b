//! The drill's traces of `POST /orders`, saved while it runs, for `just
//! crisp --what-if`: the projection needs each trace, which only files
//! give (asked of the collector, crisp gets its analysis alone). Every
//! [`EVERY`], the newest traces since the load began (at most the
//! collector's [`collector_client::MAX_LIMIT`]) are saved into [`RECORDINGS`], one Jaeger
//! JSON file each, as `just demo` saves its own, so that
//!
//! ```sh
//! just crisp target/incident/recordings --what-if "SERVICE OPERATION -100%"
//! ```
//!
//! works during the drill and after it. The drill's folder, not the
//! demo's: a drill never overwrites a demo run's recording.

use std::path::{Path, PathBuf};
use std::time::Duration;

use collector_client::{Client, TraceSearch};
use trace_analysis::jaeger::Trace;

/// Where the drill's traces are saved, in the workspace.
pub const RECORDINGS: &str = "target/incident/recordings";

/// How often they are saved again: each time costs the collector a query
/// of a thousand traces, and the shop's two cores share it.
pub const EVERY: Duration = Duration::from_secs(60);

/// Saves the traces of the gateway's `POST /orders` that started since
/// `since_us` (Unix µs), from the collector at `ui_url`, into `folder`
/// every [`EVERY`], until the task is aborted. The last drill's recording
/// goes first: nothing is read as this drill's that is not.
pub async fn keep_recording(ui_url: String, folder: PathBuf, since_us: u64) {
    // None there yet is as good.
    let _ = std::fs::remove_dir_all(&folder);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        ticks.tick().await;
        // A round that fails is made again at the next: the drill goes on.
        let _ = record(&ui_url, &folder, since_us).await;
    }
}

/// One round: the traces fetched, then saved beside the folder and swapped
/// in, so that `just crisp` reading it meanwhile never meets a file half
/// written or gone. Written off the async threads, which drive the load.
async fn record(ui_url: &str, folder: &Path, since_us: u64) -> anyhow::Result<()> {
    let search = TraceSearch::orders_since(since_us);
    let traces = Client::new(ui_url)?.traces(&search).await?;
    let folder = folder.to_path_buf();
    tokio::task::spawn_blocking(move || swap_in(&folder, &traces)).await??;
    Ok(())
}

/// `traces` saved as `folder`'s whole content.
fn swap_in(folder: &Path, traces: &[Trace]) -> std::io::Result<()> {
    let next = folder.with_extension("next");
    trace_analysis::recording::save(&next, traces)?;
    if folder.exists() {
        std::fs::remove_dir_all(folder)?;
    }
    std::fs::rename(&next, folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_replaces_the_last_whole() {
        let root = std::env::temp_dir().join(format!("incident-recording-{}", std::process::id()));
        let folder = root.join("recordings");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("old.json"), "{}").unwrap();
        swap_in(&folder, &[]).unwrap();
        assert!(folder.is_dir());
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
        assert!(!root.join("recordings.next").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
