//! Lab 03, context across services: another correct design. Only
//! `propagation.rs` differs from the reference solution: one propagator,
//! built once in a `static` and shared by `extract` and `inject`, composes
//! W3C Trace Context with W3C Baggage; `extract` reads onto an explicitly
//! empty context rather than the current one.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
