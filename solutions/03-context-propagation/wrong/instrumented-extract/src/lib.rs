//! Lab 03, a wrong solution. The learner puts `#[instrument]` on `extract` and
//! `inject`, as lab 01 did for each step; `extract` runs before the server span
//! exists, so each request also makes a one-span trace of its own for the
//! extraction, beside the request's.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
