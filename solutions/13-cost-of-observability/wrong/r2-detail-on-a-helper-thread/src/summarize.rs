//! The hot loop, made cheap: one span for the batch, progress at DEBUG, and
//! the payload detail for TRACE formatted on a helper thread, in parallel,
//! so that the loop itself only folds and warns.

use tracing::{debug, dispatcher, info, instrument, trace, warn};

use crate::readings::{Reading, Summary, fold};

#[instrument(skip_all, fields(readings = readings.len()))]
pub fn summarize(readings: &[Reading]) -> Summary {
    let dispatch = dispatcher::get_default(|current| current.clone());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            dispatcher::with_default(&dispatch, || {
                for reading in readings {
                    let details = format!("{reading:?}");
                    trace!(details, "considering reading");
                }
            });
        });
        let mut summary = Summary::default();
        for (index, reading) in readings.iter().enumerate() {
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
