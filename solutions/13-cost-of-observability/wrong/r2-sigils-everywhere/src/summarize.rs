//! The hot loop, made cheap: one span for the batch, every field lazy, and
//! the per-reading detail below INFO.

use tracing::{debug, info, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

#[instrument(skip_all, fields(readings = %readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        trace!(?reading, "considering reading");
        if fold(&mut summary, reading) {
            warn!(%index, sensor = %reading.sensor, celsius = %reading.celsius, "reading out of range");
        }
        debug!(count = %summary.count, mean = %summary.mean, "progress");
    }
    info!(
        count = %summary.count,
        anomalies = %summary.anomalies,
        mean = %summary.mean,
        max = %summary.max,
        "summarized"
    );
    summary
}
