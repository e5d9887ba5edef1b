//! Lab 03, a wrong solution. The learner injects `Span::current()`'s context,
//! taking "the client injects its current span's context" literally; the client
//! span is not entered yet when the request is built, so the downstream server
//! span becomes a child of the frontend's handler, not of the call to it.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
