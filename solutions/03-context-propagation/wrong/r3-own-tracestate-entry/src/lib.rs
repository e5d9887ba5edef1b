//! Lab 03, a wrong solution: the outgoing `tracestate` is taken to be the
//! sending service's own, so `inject` writes this service's entry in place
//! of the entries the caller sent. `extract` and the services are the
//! reference's.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
