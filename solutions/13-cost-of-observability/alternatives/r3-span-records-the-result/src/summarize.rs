//! Your hot loop, made cheap: it says what matters, and pays for nothing
//! else.
//!
//! - One span for the whole batch, made by hand: it says how many readings
//!   it was given when it starts, and records what they came to (`count`,
//!   `anomalies`) once the loop is done.
//! - Nothing else per reading: the payload and the progress are gone, so
//!   the loop does the work and warns.
//! - The warning per anomaly and the summary stay: they are the facts.

use tracing::field::Empty;
use tracing::{info, info_span, warn};

use crate::readings::{Reading, Summary, fold};

pub fn summarize(readings: &[Reading]) -> Summary {
    let span = info_span!(
        "summarize",
        readings = readings.len(),
        count = Empty,
        anomalies = Empty
    );
    let _entered = span.enter();
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        if fold(&mut summary, reading) {
            warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
        }
    }
    span.record("count", summary.count);
    span.record("anomalies", summary.anomalies);
    info!(
        count = summary.count,
        anomalies = summary.anomalies,
        mean = summary.mean,
        max = summary.max,
        "summarized"
    );
    summary
}
