//! The workshop's trace collector: the server.
//!
//! Learners see their traces with no account, no container and no network:
//! services export OTLP/HTTP to `127.0.0.1:4318`, and the collector answers
//! Jaeger's query API and serves a waterfall UI on `127.0.0.1:16686`, the
//! same ports as Jaeger's all-in-one. So a real Jaeger (or anything else
//! that speaks OTLP and Jaeger's API) replaces it with no change to any
//! service.
//!
//! - [`ingest`]: `POST /v1/traces`, protobuf or JSON, gzip or not; and
//!   `POST /v1development/profiles`, CPU samples linked to spans.
//! - [`otlp`]: OTLP's spans flattened into the collector's own record.
//! - [`otlp_profiles`]: OTLP's profiles read into CPU samples, each with
//!   its span and its stack.
//! - [`tail_sampling`]: with `--tail-sampling`, each trace waits until it
//!   is complete and is kept only if it failed, was slow for its endpoint,
//!   or falls in a share of the rest.
//! - [`store`]: bounded memory (spans and bytes), oldest traces evicted
//!   first, optional file; the CPU samples beside them.
//! - [`samples`]: the CPU samples, bounded, each stack and name kept once.
//! - [`pprof`]: pprof's profile format, in which the API answers CPU
//!   samples for `go tool pprof` and speedscope.
//! - [`limits`]: what is kept of each span and trace, and the counts and
//!   log lines of what is not.
//! - [`api`]: Jaeger-shaped queries, CPU flame graphs and pprof profiles of
//!   spans, the UI, and the collector's own metrics (written as
//!   OpenMetrics text by `exposition`).
//! - [`serve`]: both served with timeouts on every connection, and a
//!   graceful shutdown.
//!
//! What the queries compute (critical paths, the analysis across traces,
//! flame graphs, RED figures) is the `trace-analysis` crate's; the ports,
//! the routes and a typed client of this API are `collector-client`'s.

pub mod api;
mod exposition;
pub mod ingest;
pub mod limits;
pub mod otlp;
pub mod otlp_profiles;
pub mod pprof;
pub mod samples;
pub mod serve;
pub mod store;
pub mod tail_sampling;
