//! Lab 03, a wrong solution. The learner writes the `traceparent` header by
//! hand on the client side, believing it is all the trace context there is; the
//! `tracestate` that arrived with the request (vendors' entries the W3C
//! standard says to pass on) is dropped at the hop.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
