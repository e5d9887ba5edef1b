//! The hot loop with nothing in it but the fold and a disabled TRACE line:
//! the anomalies are noted by index, and warned about once the batch is
//! folded, in the order they came, before the summary.

use tracing::{info, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

#[instrument(skip(readings), fields(readings = readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    let mut anomalies = Vec::new();
    for (index, reading) in readings.iter().enumerate() {
        trace!(index, ?reading, "considering reading");
        if fold(&mut summary, reading) {
            anomalies.push(index);
        }
    }
    for index in anomalies {
        let reading = &readings[index];
        warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
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
