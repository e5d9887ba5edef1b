//! Your hot loop, made cheap: one span for the batch, the payload as a lazy
//! field, progress at DEBUG, and the warnings sampled: one WARN per ten
//! anomalies, while the summary counts every one.

use tracing::{debug, info, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

/// One anomaly in this many is written as a WARN.
const WARN_ONE_IN: u64 = 10;

#[instrument(skip_all, fields(readings = readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        trace!(?reading, "considering reading");
        if fold(&mut summary, reading) && summary.anomalies % WARN_ONE_IN == 1 {
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
