//! The workshop's trace collector.
//!
//! Learners see their traces with no account, no container and no network:
//! services export OTLP/HTTP to `127.0.0.1:4318`, and the collector answers
//! Jaeger's query API and serves a waterfall UI on `127.0.0.1:16686`, the
//! same ports as Jaeger's all-in-one. So a real Jaeger (or anything else
//! that speaks OTLP and Jaeger's API) replaces it with no change to any
//! service.
//!
//! - [`ingest`]: `POST /v1/traces`, protobuf or JSON, gzip or not.
//! - [`store`]: bounded memory (spans and bytes), oldest traces evicted
//!   first, optional file.
//! - [`limits`]: what is kept of each span and trace, and the counts and
//!   log lines of what is not.
//! - [`api`]: Jaeger-shaped queries, and the UI.
//! - [`critical_path`]: what a trace's duration waited on.
//! - [`aggregate`]: the same across thousands of traces, after CRISP.
//! - [`flame`]: those as flame graphs, drawn by inferno.
//! - [`crisp_reference`]: CRISP's own output, read back to check them.
//! - [`terminal`]: the same waterfall, as text.
//! - [`recording`]: folders of Jaeger JSON traces, written and read fast.
//! - [`red`]: rate, errors and duration per operation, from server spans.

pub mod aggregate;
pub mod api;
pub mod crisp_reference;
pub mod critical_path;
pub mod flame;
pub mod ingest;
pub mod jaeger;
pub mod limits;
pub mod model;
pub mod recording;
pub mod red;
pub mod store;
pub mod terminal;

/// The OTLP/HTTP port, as everywhere.
pub const OTLP_PORT: u16 = 4318;
/// The UI and query port, as Jaeger's.
pub const UI_PORT: u16 = 16686;
/// Where `just demo` records its run's traces (`planted/` or `fixed/`, one
/// Jaeger JSON file per trace) for `just crisp`, relative to the
/// workspace's root.
pub const DEMO_RECORDINGS: &str = "target/demo/recordings";
