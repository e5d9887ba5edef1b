//! A trace once it is complete, as a tail sampler sees it: given, do not
//! change. The collector builds one when no span of the trace has arrived
//! for a while; the tail policy decides on it whole.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Status, TraceId};

/// Where a trace came in: its root span's service and operation
/// (`gateway`, `POST /orders`). Each endpoint has latencies of its own: a
/// search and a checkout are slow at very different durations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub service: String,
    pub operation: String,
}

/// Everything a tail sampler reads of one complete trace.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletedTrace {
    /// The trace's id: random, drawn by whichever service started it.
    pub trace_id: TraceId,
    /// Its root span's service and operation.
    pub endpoint: Endpoint,
    /// How long its root span took: the request's latency as its caller
    /// saw it.
    pub root_duration: Duration,
    /// When its root span ended.
    pub ended: SystemTime,
    /// The status of every span of the trace, the root's first, then the
    /// others in no particular order.
    pub span_statuses: Vec<Status>,
}

impl CompletedTrace {
    /// How many spans the trace has: what storing it costs.
    pub fn span_count(&self) -> usize {
        self.span_statuses.len()
    }
}
