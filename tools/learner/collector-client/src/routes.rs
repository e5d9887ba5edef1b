//! The paths the collector answers, in axum's syntax (`{name}` stands for
//! one path segment): the server mounts its routes with these, and
//! [`crate::Client`] fills them in. Jaeger answers the same query routes
//! but the ones marked *ours*.

/// OTLP/HTTP's export of spans (`POST`), on [`crate::OTLP_PORT`].
pub const OTLP_TRACES: &str = "/v1/traces";

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
