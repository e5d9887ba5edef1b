//! Lab 03, a wrong solution. The learner parses `traceparent` by hand,
//! believing four dash-separated hex fields are all there is to check: an
//! unknown version, upper-case hex, extra fields after version 00 are all
//! accepted, and the server continues a trace the W3C rules say to refuse.

pub mod propagation;

pub use reference::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
