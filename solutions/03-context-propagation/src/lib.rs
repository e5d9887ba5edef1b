//! Lab 03, context across services: the reference solution. Only
//! `propagation.rs` differs from the starter; the services are the lab's own
//! files.

pub mod propagation;

pub use lab03_given::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
