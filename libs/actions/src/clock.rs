//! Where durations come from: the system's monotonic clock, or one a test
//! moves by hand, so that statistics are checked without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Nanoseconds since some fixed instant; only differences matter.
pub trait Clock: Send + Sync + 'static {
    fn now_ns(&self) -> u64;
}

/// The monotonic system clock. Every `SystemClock` of the process counts
/// from the same instant, so their times can be compared.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        let origin = ORIGIN.get_or_init(Instant::now);
        u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn advance_us(&self, micros: u64) {
        self.now.fetch_add(micros * 1_000, Ordering::SeqCst);
    }

    pub fn advance_secs(&self, secs: u64) {
        self.now.fetch_add(secs * 1_000_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}
