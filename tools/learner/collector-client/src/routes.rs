//! The paths the collector answers, in axum's syntax (`{name}` stands for
//! one path segment): the server mounts its routes with these, and
//! [`crate::Client`] fills them in. Jaeger answers the same query routes
//! but the ones marked *ours*.

/// OTLP/HTTP's export of spans (`POST`), on [`crate::OTLP_PORT`].
pub const OTLP_TRACES: &str = "/v1/traces";
/// OTLP/HTTP's export of profiles (`POST`, protobuf), on
/// [`crate::OTLP_PORT`]: CPU samples, each linked to the span it was taken
/// in. The path of the signal's development version, `v1development`.
pub const OTLP_PROFILES: &str = "/v1development/profiles";

/// Service names.
pub const SERVICES: &str = "/api/services";
/// A service's operation names.
pub const OPERATIONS: &str = "/api/services/{service}/operations";
/// A search of traces.
pub const TRACES: &str = "/api/traces";
/// One trace.
pub const TRACE: &str = "/api/traces/{trace_id}";
/// One trace's critical path (*ours*).
pub const TRACE_CRITICAL_PATH: &str = "/api/traces/{trace_id}/critical-path";
/// Critical paths across an endpoint's traces (*ours*).
pub const CRITICAL_PATHS: &str = "/api/critical-paths";
/// Their flame graph (*ours*).
pub const CRITICAL_PATHS_FLAME_GRAPH: &str = "/api/critical-paths/flame.svg";
/// The CPU flame graph of an operation's spans (`service`, `operation`),
/// within a window, in an endpoint's traces (`endpointService`,
/// `endpointOperation`), in a latency band of them (`band`) (*ours*).
pub const PROFILE_FLAME_GRAPH: &str = "/api/profiles/flame.svg";
/// The same samples as folded stacks, `frame;frame;frame count` a line,
/// root first (*ours*).
pub const PROFILE_FOLDED: &str = "/api/profiles/folded";
/// The same samples as a pprof profile, gzip-compressed (a `.pb.gz` file,
/// as `go tool pprof` writes and reads them), each sample labelled with its
/// `trace_id` and `span_id` (*ours*).
pub const PROFILE_PPROF: &str = "/api/profiles/profile.pb.gz";
/// The CPU flame graph of one span's own samples (*ours*).
pub const SPAN_FLAME_GRAPH: &str = "/api/traces/{trace_id}/spans/{span_id}/flame.svg";
/// One span's own samples as a pprof profile, gzip-compressed (*ours*).
pub const SPAN_PPROF: &str = "/api/traces/{trace_id}/spans/{span_id}/profile.pb.gz";
/// The service dependency graph.
pub const DEPENDENCIES: &str = "/api/dependencies";
/// Rate, errors and duration per operation, from server spans (*ours*).
pub const RED: &str = "/api/red";
/// The collector's own counters, as OpenMetrics text (*ours*).
pub const METRICS: &str = "/metrics";

/// The UI's search page.
pub const UI_SEARCH: &str = "/";
/// The UI's waterfall of one trace.
pub const UI_TRACE: &str = "/trace/{trace_id}";
/// The UI's two traces side by side.
pub const UI_COMPARE: &str = "/compare/{a}/{b}";
/// The UI's dependency graph.
pub const UI_DEPENDENCIES: &str = "/dependencies";
/// The UI's critical paths across an endpoint's traces.
pub const UI_CRITICAL_PATHS: &str = "/critical-paths";
