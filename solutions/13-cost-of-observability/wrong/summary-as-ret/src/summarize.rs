//! Your hot loop, made cheap: one span for the batch, which also writes the
//! summary it returns (`ret`, at the span's level, INFO), the payload as a
//! lazy field, progress at DEBUG, and a warning per anomaly.

use tracing::{debug, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

#[instrument(skip_all, fields(readings = readings.len()), ret)]
pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        trace!(?reading, "considering reading");
        if fold(&mut summary, reading) {
            warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
        }
        debug!(count = summary.count, mean = summary.mean, "progress");
    }
    summary
}
