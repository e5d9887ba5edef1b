//! Your hot loop, made cheap: it says what matters, and pays for nothing
//! else.
//!
//! - The batch's one span is at DEBUG: under a service's INFO, not even made.
//! - The reading goes to TRACE as lazy fields (`%` and `?`), formatted only
//!   if a subscriber records them.
//! - Progress is sampled: one DEBUG event per thousand readings.
//! - A WARN per anomaly, with its index, and the INFO summary at the end.

use tracing::{Level, debug, event, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

/// One progress event per this many readings.
const PROGRESS_EVERY: usize = 1_000;

#[instrument(level = "debug", skip_all, fields(readings = readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    readings.iter().enumerate().for_each(|(index, reading)| {
        trace!(sensor = %reading.sensor, celsius = reading.celsius, payload = ?reading.raw_payload, "considering reading");
        if fold(&mut summary, reading) {
            warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
        }
        if (index + 1) % PROGRESS_EVERY == 0 {
            debug!(count = summary.count, mean = summary.mean, "progress");
        }
    });
    event!(
        Level::INFO,
        count = summary.count,
        anomalies = summary.anomalies,
        mean = summary.mean,
        max = summary.max,
        "summarized"
    );
    summary
}
