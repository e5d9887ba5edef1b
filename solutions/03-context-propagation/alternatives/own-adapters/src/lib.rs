//! Lab 03, context across services: another correct design. Only
//! `propagation.rs` differs from the reference solution: it adapts the
//! `HeaderMap` to the propagator with `Extractor` and `Injector`
//! implementations of its own instead of `opentelemetry_http`'s.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
