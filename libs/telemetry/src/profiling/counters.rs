//! What became of the samples, served on `GET /metrics` with the other
//! telemetry counters: a span profile that silently loses samples would
//! send a learner after the wrong code.

use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The outcome of a sample, the `outcome` label.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    /// Sent to the collector, in its span.
    Sent,
    /// Taken while no span was entered on its thread: not sent.
    OutsideSpans,
    /// Its span did not close within the join's wait: not sent.
    SpanNeverClosed,
    /// Its window's export failed.
    NotSent,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::OutsideSpans => "outside_spans",
            Outcome::SpanNeverClosed => "span_never_closed",
            Outcome::NotSent => "not_sent",
        }
    }
}

pub(crate) struct ProfileCounters {
    samples: Family<Vec<(String, String)>, Counter>,
    /// Timeline records dropped past its bound (see `timeline`).
    pub records_dropped: Counter,
}

pub(crate) fn counters() -> &'static ProfileCounters {
    static COUNTERS: OnceLock<ProfileCounters> = OnceLock::new();
    COUNTERS.get_or_init(|| ProfileCounters {
        samples: Family::default(),
        records_dropped: Counter::default(),
    })
}

impl ProfileCounters {
    pub(crate) fn add(&self, outcome: Outcome, samples: i64) {
        if samples > 0 {
            self.samples
                .get_or_create(&vec![("outcome".to_owned(), outcome.label().to_owned())])
                .inc_by(samples as u64);
        }
    }
}

/// Registers the counters in `registry`, the one `GET /metrics` serves.
pub(crate) fn register(registry: &mut Registry) {
    let counters = counters();
    registry.register(
        "span_profile_samples",
        "CPU samples of the span profiler (PROFILE=1), by outcome: sent in their span, or why not",
        counters.samples.clone(),
    );
    registry.register(
        "span_profile_timeline_records_dropped",
        "Enters, exits and closes the span profiler could not keep (its bound per window): their samples go unplaced",
        counters.records_dropped.clone(),
    );
}
