//! Lab 03, another correct design: the propagator reads from and writes to a
//! `HashMap<String, String>`, the carrier OpenTelemetry adapts to its
//! `Extractor` and `Injector` itself, and `propagation.rs` copies the trace
//! headers between that map and the request's `HeaderMap`. The services are
//! the reference's.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
