//! Lab 03, context across services.
//!
//! Two services: `frontend` answers `GET /quote/{talk_id}?quantity=N` and
//! asks `prices` for the unit price. Each makes spans, but so far each
//! request makes *two* traces, one per service: nothing tells `prices` that
//! its work belongs to the frontend's request. W3C Trace Context's headers
//! are how a request carries its trace from one service to the next;
//! OpenTelemetry's propagators read and write them.
//!
//! Your part is `propagation.rs`; the services are given (`given/src/`),
//! and take your two functions as `PROPAGATION`.
//!
//! Run `just lab 3` to check your work, `just hint 3` when stuck.

pub mod propagation;

pub use lab03_given::{Propagation, frontend, prices, server};

/// Your `extract` and `inject`, as the given services take them.
pub const PROPAGATION: Propagation = Propagation {
    extract: propagation::extract,
    inject: propagation::inject,
};
