//! Lab 03, a wrong solution. The learner goes through
//! `opentelemetry::global::get_text_map_propagator`, believing the global
//! propagator is W3C Trace Context by default; until a program sets one it is a
//! no-op, which neither writes nor reads a `traceparent`.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
