//! One-call telemetry for the demo services.
//!
//! A service's `main` sets everything up with one line and keeps the guard
//! alive until it has finished serving:
//!
//! ```no_run
//! # fn main() -> Result<(), telemetry::InitError> {
//! let telemetry = telemetry::init("inventory")?;
//! // … serve until shutdown …
//! telemetry.shutdown(); // flushes every pending span
//! # Ok(())
//! # }
//! ```
//!
//! What it produces is chosen by the environment, with the usual names:
//!
//! | variable | values | default |
//! |---|---|---|
//! | `RUST_LOG` | an `EnvFilter` directive | `info` |
//! | `LOG_FORMAT` | `console` (for people), `json` (one object per line, for log aggregation) | `console` |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `none` | `otlp` |
//! | `OTEL_SDK_DISABLED` | `true` turns the export off | |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL | `http://127.0.0.1:4318` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf`, `http/json` | `http/protobuf` |
//! | `OTEL_SERVICE_NAME` | overrides the name given in code | |
//!
//! Context crosses services as W3C Trace Context (`traceparent`): the
//! server spans of [`http::trace_layer`] (tower-http's `TraceLayer`)
//! continue an incoming trace, and the client spans of [`client::traced`]
//! (a reqwest middleware) carry the current one into an outgoing request.
//! Every database statement gets a client span too, from sqlx's own
//! statement log ([`db`]).

pub mod client;
pub mod db;
pub mod http;
pub mod layers;
pub mod metrics;
pub mod propagation;
mod setup;
mod trace_ids;

pub use setup::{
    Guard, InitError, LogFormat, Settings, init, stats, subscriber, subscriber_writing_to,
    tracer_provider,
};
pub use trace_ids::{TraceIdLayer, TraceIds, WithTraceIds};
