//! The hot loop, made cheap: one span, made once and entered by every
//! batch, the payload a lazy field, progress at DEBUG.

use tracing::{Span, debug, field, info, info_span, trace, warn};

use crate::readings::{Reading, Summary, fold};

thread_local! {
    static BATCH: Span = info_span!("summarize", readings = field::Empty);
}

pub fn summarize(readings: &[Reading]) -> Summary {
    BATCH.with(|span| {
        span.record("readings", readings.len());
        let _entered = span.enter();
        let mut summary = Summary::default();
        for (index, reading) in readings.iter().enumerate() {
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
    })
}
