//! What the trace store can take, and the traffic it is set against: given,
//! do not change.

/// The spans the trace store may take in, and the traffic the services are
/// expected to serve. Both samplers are built from one of these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Spans per second the trace store may take in, on average: what its
    /// disk, its memory and the bill allow.
    pub stored_spans_per_second: f64,
    /// Traces per second the services are expected to start: the requests
    /// that arrive without a trace of their own, each the root of one.
    pub expected_traces_per_second: f64,
    /// Spans a trace is expected to have, on average over every endpoint:
    /// its root and everything the request called.
    pub expected_spans_per_trace: f64,
}
