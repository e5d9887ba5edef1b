//! Your hot loop, made cheap. A batch of ten thousand readings or more is a
//! bulk import: it is folded with no per-reading event, and its anomalies
//! are counted in the summary. A smaller batch says everything that matters.

use tracing::{debug, info, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold, summarize_uninstrumented};

/// From this many readings on, a batch is a bulk import.
const BULK: usize = 10_000;

#[instrument(skip_all, fields(readings = readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let summary = if readings.len() >= BULK {
        summarize_uninstrumented(readings)
    } else {
        let mut summary = Summary::default();
        for (index, reading) in readings.iter().enumerate() {
            trace!(?reading, "considering reading");
            if fold(&mut summary, reading) {
                warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
            }
            debug!(count = summary.count, mean = summary.mean, "progress");
        }
        summary
    };
    info!(
        count = summary.count,
        anomalies = summary.anomalies,
        mean = summary.mean,
        max = summary.max,
        "summarized"
    );
    summary
}
