//! The collector's query API as its users see it: where the collector
//! listens, the routes it answers, its limits, the time and duration syntax
//! of its queries, and a typed [`Client`].
//!
//! The collector mounts its routes with [`routes`]' constants, and the
//! workshop's tools ask it through [`Client`]: each port and route is
//! spelled here once. Answers are `trace-analysis`'s types, in Jaeger's
//! shape where Jaeger has one.

mod client;
pub mod routes;
mod time;

pub use client::{Client, Error, ProfileShape, TraceSearch};
pub use time::{duration_us, now_us};

/// The OTLP/HTTP port, as everywhere.
pub const OTLP_PORT: u16 = 4318;
/// The UI and query port, as Jaeger's.
pub const UI_PORT: u16 = 16686;

/// Traces listed when a search does not say how many.
pub const DEFAULT_LIMIT: usize = 20;
/// At most this many traces in one answer.
pub const MAX_LIMIT: usize = 1_000;

/// The base URL of a port on this machine's loopback, such as the
/// collector's ([`OTLP_PORT`], [`UI_PORT`]).
pub fn loopback(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}
