//! One-call telemetry for the demo services.
//!
//! A service's `main` sets everything up with one line and keeps the guard
//! alive until it has finished serving:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = telemetry::init("inventory")?;
//! // … serve until shutdown …
//! telemetry.shutdown().confirm()?; // flushes every pending span; a loss is an error
//! # Ok(())
//! # }
//! ```
//!
//! The shutdown writes what became of every span on standard error, one
//! line ([`FlushReport`], which reads it back too):
//!
//! ```text
//! telemetry: span export at shutdown: 5120 exported, 0 failed, 0 dropped
//! ```
//!
//! and `confirm()` turns a loss into the error `main` returns, so that the
//! process exits non-zero.
//!
//! What it produces is chosen by the environment, with the usual names:
//!
//! | variable | values | default |
//! |---|---|---|
//! | `RUST_LOG` | an `EnvFilter` directive | `info` |
//! | `LOG_FORMAT` | `console` (for people), `json` (one object per line, for log aggregation) | `console` |
//! | `LOG_LOSSLESS` | `1`: a log line waits for room in its writer's queue, and so does its request, rather than being dropped (and counted) when the queue is full ([`log_writer`]) | off: lossy |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `none` | `otlp` |
//! | `OTEL_SDK_DISABLED` | `true` turns the export off | |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL | `http://127.0.0.1:4318` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf`, `http/json` | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds the exporter tries one batch, retries included | `40000` |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | spans waiting for export; past it, ended spans are dropped (and counted) | `65536` |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` | the batch processor's batches (spans) and delay (ms) | `4096`, `1000` |
//! | `OTEL_SERVICE_NAME` | overrides the name given in code | |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | head sampling, read by the OpenTelemetry SDK: `parentbased_traceidratio` and `0.1` start one trace in ten and follow a caller's decision; decided at a trace's first span here, the trace's other spans kept away from OpenTelemetry when it is dropped ([`sampling`]) | `parentbased_always_on` |
//! | `PROFILE` | `1` samples the process's CPU 100 times a second and sends the samples, each joined to the span it was taken in, beside the spans ([`profiling`]) | off |
//! | `CLOCK_SKEW_MS` | stamps every exported span this many milliseconds off, as a machine whose clock is wrong would (the incident drill's `clock` problem; see `clock_skew`) | `0` |
//!
//! Context crosses services as W3C Trace Context (`traceparent`): the
//! server spans of [`http::trace_layer`] (tower-http's `TraceLayer`)
//! continue an incoming trace, and the client spans of [`client::traced`]
//! (a reqwest middleware) carry the current one into an outgoing request.
//! Every database statement gets a client span too, from sqlx's own
//! statement log ([`db`]). Every span carries its own on-CPU time
//! (`span.cpu_time_ns`, its children excluded: [`cpu_time`]), so that an
//! operation on the critical path shows whether it computes or waits.
//!
//! Log lines never hold a request up ([`log_writer`]): each standard
//! stream the format writes to has a worker thread that writes the lines
//! out, and making a line only queues it. Past the queue's 128,000 lines a
//! line is dropped, and counted (`log_lines_dropped_total` on
//! `GET /metrics`), unless `LOG_LOSSLESS=1`. At shutdown the guard has the
//! workers write out what they hold once the spans are flushed, before it
//! writes the spans' report.
//!
//! The export says what it lost ([`export`]): the exporter retries a batch
//! with backoff for as long as its timeout (a collector that restarts, or
//! is down for up to 30 s, costs no span, while new spans wait in the
//! queue); the spans handed to the batch processor, exported, failed for
//! good (by reason) and retried are counted and served on `GET /metrics`;
//! failures and retries are logged, one line a reason every ten seconds at
//! most.

mod causes;
pub mod client;
pub mod clock_skew;
pub mod cpu_time;
pub mod db;
pub mod export;
mod flush_report;
pub mod http;
pub mod layers;
pub mod log_writer;
pub mod metrics;
pub mod profiling;
pub mod propagation;
pub mod sampling;
mod setup;
mod trace_ids;

pub use causes::with_causes;
pub use flush_report::{DropReason, ExportFailure, FlushReport, ParseFlushReportError, SpansLost};
pub use setup::{
    Guard, InitError, LogFormat, Settings, init, stats, subscriber, subscriber_writing_to,
    tracer_provider,
};
pub use trace_ids::{TraceIdLayer, TraceIds, WithTraceIds};
