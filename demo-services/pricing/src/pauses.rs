//! Pricing's pauses: the trigger of the retry storm.
//!
//! **Planted problem (incident drill): the retry storm, its slow peer.**
//! With [`shop::Problem::RetryStorm`] planted, pricing compacts its quote
//! cache every [`EVERY`] quotes, and every quote waits for the compaction,
//! [`PAUSE`] long, to end: now and then pricing is slow for everyone at
//! once, as a service whose runtime pauses is. The storm itself is the
//! gateway's, which asks again at once when a quote takes longer than it
//! allows (see the gateway's `quote`). `--fix-retry-storm` removes both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::RwLock;
use tracing::Instrument;

/// One quote in this many starts a compaction.
pub const EVERY: u64 = 200;
/// How long a compaction holds every quote.
pub const PAUSE: Duration = Duration::from_millis(120);

/// The compactions, and the quotes that wait for them.
#[derive(Debug, Default)]
pub struct Pauses {
    quotes: AtomicU64,
    compaction: Arc<RwLock<()>>,
}

impl Pauses {
    /// Waits for a compaction under way to end; every [`EVERY`]th quote
    /// runs one. A compaction runs to its end on a task of its own, even
    /// when the quote that started it is given up: a runtime's pause does
    /// not stop because a client stopped waiting.
    pub async fn wait_turn(&self) {
        let quote = self.quotes.fetch_add(1, Ordering::Relaxed) + 1;
        if quote.is_multiple_of(EVERY) {
            let lock = Arc::clone(&self.compaction);
            let compaction = tokio::spawn(
                async move {
                    let _everyone_waits = lock.write_owned().await;
                    compact().await;
                }
                .in_current_span(),
            );
            // Only fails if the compaction panicked, and then it is over.
            let _ = compaction.await;
        } else {
            drop(self.compaction.read().await);
        }
    }
}

#[tracing::instrument]
async fn compact() {
    tokio::time::sleep(PAUSE).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_200th_quote_pauses_every_quote_in_flight() {
        let pauses = Arc::new(Pauses::default());
        for _ in 1..EVERY {
            pauses.wait_turn().await;
        }
        let started = tokio::time::Instant::now();
        let compaction = tokio::spawn({
            let pauses = Arc::clone(&pauses);
            async move { pauses.wait_turn().await }
        });
        // Another quote, once the compaction holds the lock, waits for it.
        while pauses.compaction.try_write().is_ok() {
            tokio::task::yield_now().await;
        }
        pauses.wait_turn().await;
        assert!(started.elapsed() >= PAUSE, "{:?}", started.elapsed());
        compaction.await.expect("the compaction ends");
    }
}
