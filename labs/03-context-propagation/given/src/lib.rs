//! Lab 03's given code: the two services, `frontend` and `prices`, and the
//! server span every request gets. It is not part of the exercise: the
//! grader relies on it, so it lives outside your `src/` and
//! `labs/checksums.txt` guards it. The services carry traces with the two
//! functions you write, handed to them as a [`Propagation`].

pub mod frontend;
pub mod prices;
pub mod server;

use http::HeaderMap;
use opentelemetry::Context;

/// How the services carry a trace across an HTTP hop: your `extract` and
/// `inject` (`src/propagation.rs`), as values the services can hold.
#[derive(Clone, Copy)]
pub struct Propagation {
    /// The caller's context, from an incoming request's headers.
    pub extract: fn(&HeaderMap) -> Context,
    /// Writes a span's context into an outgoing request's headers.
    pub inject: fn(&tracing::Span, &mut HeaderMap),
}
