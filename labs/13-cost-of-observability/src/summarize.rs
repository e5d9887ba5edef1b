//! Your hot loop: it summarizes a batch of readings, and its telemetry
//! costs many times the work itself. Cut that cost until the loop runs
//! within twice the uninstrumented baseline, and keep the events that
//! matter (README, "Done when").

use tracing::{debug, info, info_span, trace, warn};

use crate::readings::{Reading, Summary, fold};

pub fn summarize(readings: &[Reading]) -> Summary {
    let mut summary = Summary::default();
    for (index, reading) in readings.iter().enumerate() {
        // TODO(step 2): a span per reading, enabled at INFO.
        let span = info_span!("reading", index, sensor = %reading.sensor);
        let _entered = span.enter();
        // TODO(step 3): formatted on every pass, even when TRACE is off.
        let details = format!("{reading:?}");
        trace!(details, "considering reading");
        let anomaly = fold(&mut summary, reading);
        debug!(celsius = reading.celsius, "folded");
        if anomaly {
            warn!(index, sensor = %reading.sensor, celsius = reading.celsius, "reading out of range");
        }
        // TODO(step 4): an INFO line per reading.
        info!(count = summary.count, mean = summary.mean, "progress");
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
