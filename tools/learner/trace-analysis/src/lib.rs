//! What the workshop's trace tools compute: a library with no server and
//! no network in it.
//!
//! - [`model`]: the collector's own span record, as its store keeps it.
//! - [`jaeger`]: Jaeger's JSON shape of a trace, as the query API answers
//!   and as recordings hold it.
//! - [`cpu_time`]: a span's own time on a CPU, where its telemetry
//!   records it.
//! - [`span_view`]: the one view of a span that the timing analyses read,
//!   whatever shape it came in, and the rule of which spans their parents
//!   wait for.
//! - [`critical_path`]: what a trace's duration waited on.
//! - [`aggregate`]: the same across thousands of traces, after CRISP.
//! - [`flame`]: those as flame graphs, drawn by inferno, and CPU samples
//!   the same way.
//! - [`crisp_reference`]: CRISP's own output, read back to check them.
//! - [`terminal`]: a trace as a waterfall, as text.
//! - [`recording`]: folders of Jaeger JSON traces, written and read fast.
//! - [`red`]: rate, errors and duration per operation, from server spans.
//! - [`what_if`]: an endpoint's latencies projected as if one operation
//!   took more or less of the critical path.

pub mod aggregate;
pub mod cpu_time;
pub mod crisp_reference;
pub mod critical_path;
pub mod flame;
pub mod jaeger;
pub mod model;
pub mod recording;
pub mod red;
pub mod span_view;
pub mod terminal;
pub mod what_if;
