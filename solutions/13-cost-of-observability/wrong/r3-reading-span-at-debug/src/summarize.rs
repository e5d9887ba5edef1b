//! Your hot loop, made cheap: it says what matters, and pays for nothing
//! else.
//!
//! - Each reading keeps its span, lowered to DEBUG: a service at INFO does
//!   not make it, so it costs one comparison, and the batch needs no span
//!   of its own.
//! - The payload is a lazy field (`?reading`): formatted by the subscriber
//!   only if TRACE is on, instead of by us on every pass.
//! - Progress is DEBUG, not INFO: a disabled event costs one comparison.
//! - The warning per anomaly and the summary stay: they are the facts.

use tracing::{debug, debug_span, info, trace, warn};

use crate::readings::{Reading, Summary, fold};

pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        let _reading = debug_span!("reading", index, sensor = %reading.sensor).entered();
        trace!(?reading, "considering reading");
        if fold(&mut summary, reading) {
            warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
        }
        debug!(count = summary.count, mean = summary.mean, "progress");
    }
    info!(
        count = summary.count,
        anomalies = summary.anomalies,
        mean = summary.mean,
        max = summary.max,
        "summarized"
    );
    summary
}
